"""Paragraph repair and sentence splitting: pure text logic shared by chunking and answering."""
from __future__ import annotations

import re

from rag.records import Block, Paragraph
from rag.ingest.sections import merge_label_headings, section_paths

_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’)\]]*$")
_LIST_OR_TABLE = re.compile(r"^([-*+•|>]|\d+[.)]\s|```)")
# A period that ends an abbreviation or initialism rather than a sentence: "U.S.", "e.g.", "Mr.", "No."
_ABBREVIATION = re.compile(
    r"(?:\b(?:[A-Za-z]\.){2,}|\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|No|Nos|Fig|Figs|Vol|vs|etc|Inc|Ltd|Co|Corp|"
    r"Art|Arts|Sec|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|approx|cf|al|ca|p|pp|para)\.|\b[A-Z]\.)$"
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def ends_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text.rstrip()))


def repair_paragraphs(blocks: list[Block]) -> list[Paragraph]:
    """Rejoin paragraphs broken at page ends and attach each paragraph's section path.

    A paragraph that does not end a sentence continues into the next paragraph of the same
    section, unless either is a list item or table row.

    >>> ps = repair_paragraphs([Block("paragraph", "to strengthen the", 0, 17),
    ...                         Block("paragraph", "Alliance.", 19, 28)])
    >>> ps[0].text, ps[0].start, ps[0].end
    ('to strengthen the Alliance.', 0, 28)
    """
    blocks = merge_label_headings(blocks)
    paragraphs: list[Paragraph] = []
    joinable = False
    for block, path in zip(blocks, section_paths(blocks)):
        if block.kind == "heading":
            joinable = False
            continue
        is_list = block.kind == "row" or bool(_LIST_OR_TABLE.match(block.text))
        if joinable and not is_list and paragraphs and paragraphs[-1].section == path:
            prev = paragraphs[-1]
            paragraphs[-1] = Paragraph(f"{prev.text} {block.text}", path, prev.start, block.end, prev.page)
        else:
            paragraphs.append(Paragraph(block.text, path, block.start, block.end, block.page))
        joinable = not is_list and not ends_sentence(block.text)
    return paragraphs


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph, not broken after abbreviations such as "U.S." or "e.g.".

    A line break always ends a sentence: readers join a paragraph's lines with spaces, so a
    line break inside a chunk is where two merged paragraphs meet (a table row, a list item), and
    a quote must not run from one into the next.

    >>> split_sentences("The U.S. Forces stay. Japan-U.S. ties grow! Why? Yes.")
    ['The U.S. Forces stay.', 'Japan-U.S. ties grow!', 'Why?', 'Yes.']
    >>> split_sentences("| Target | 2026 |\\nPerformance Indicators\\nThe plan ends. It was met.")
    ['| Target | 2026 |', 'Performance Indicators', 'The plan ends.', 'It was met.']
    """
    return [sentence for line in text.split("\n") for sentence in _line_sentences(line)]


def _line_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for m in _SENTENCE_BREAK.finditer(text):
        head = text[start:m.start()].rstrip("\"'”’)]")
        if _ABBREVIATION.search(head):
            continue
        sentences.append(text[start:m.start()].strip() + text[m.start():m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]
