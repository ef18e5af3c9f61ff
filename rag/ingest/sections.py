"""Section paths from headings, read by their numbering as well as their markup depth.

Documents extracted from print carry headings whose `#` depth is unreliable: in the sample,
`## Section 1` contains `## 1 Maintenance…` (same depth) and `### 3 Further…` is a sibling of
`## 2 Maintenance…`. The numbering says what the markup does not: `Chapter` > `Section` >
`1` > `(1)` > `(a)`, a `1` under a `1` of deeper markup opens a new level, and `3` after `2`
continues the same level whatever its depth.

    >>> from rag.records import Block
    >>> blocks = [Block("heading", "Section 1 A", 0, 0, 2), Block("heading", "1 B", 0, 0, 2),
    ...           Block("heading", "2 C", 0, 0, 2), Block("heading", "3 D", 0, 0, 3)]
    >>> [p for p in section_paths(blocks)]
    [('Section 1 A',), ('Section 1 A', '1 B'), ('Section 1 A', '2 C'), ('Section 1 A', '3 D')]
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rag.records import Block

_ROMAN = r"[IVXLC]+"
_LABEL_WORDS = {"part": 0, "book": 0, "chapter": 1, "section": 2, "article": 3, "subsection": 3}
_KEYWORD = re.compile(
    rf"^(?P<word>part|book|chapter|section|subsection|article)\s+(?P<num>\d+|{_ROMAN})\b[.:]?\s*(?P<title>.*)$",
    re.IGNORECASE,
)
_DECIMAL = re.compile(r"^(?P<num>\d+(?:\.\d+)+)\.?\s+(?P<title>\S.*)$")
_NUMBER = re.compile(r"^(?P<num>\d+)[.)]?\s+(?P<title>\S.*)$")
_PAREN_NUMBER = re.compile(r"^\((?P<num>\d+)\)\s*(?P<title>\S.*)$")
_LETTER = re.compile(r"^\(?(?P<num>[a-z])[.)]\s+(?P<title>\S.*)$")

# Rank of each numbering style: smaller contains larger.
_STYLE_RANK = {"number": 4, "paren": 6, "letter": 7}


@dataclass(frozen=True)
class HeadingLabel:
    """What a heading's numbering says: its style, rank, number (if any) and whether it has a title."""

    style: str  # "part", "chapter", ..., "decimal", "number", "paren", "letter" or "plain"
    rank: int | None  # None for unnumbered headings: their markup depth decides
    number: int | None
    has_title: bool


def _roman_to_int(text: str) -> int:
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
    total = 0
    for i, ch in enumerate(text):
        value = values[ch]
        total += -value if i + 1 < len(text) and values[text[i + 1]] > value else value
    return total


def _to_int(num: str) -> int:
    return int(num) if num.isdigit() else _roman_to_int(num.upper())


def classify_heading(text: str) -> HeadingLabel:
    """Read a heading's numbering.

    >>> classify_heading("Chapter 3")
    HeadingLabel(style='chapter', rank=1, number=3, has_title=False)
    >>> classify_heading("2.1 Scope").rank
    5
    """
    text = text.strip()
    if m := _KEYWORD.match(text):
        word = m["word"].lower()
        return HeadingLabel(word, _LABEL_WORDS[word], _to_int(m["num"]), bool(m["title"].strip()))
    if m := _DECIMAL.match(text):
        parts = m["num"].split(".")
        return HeadingLabel("decimal", _STYLE_RANK["number"] + len(parts) - 1, int(parts[-1]), True)
    if m := _PAREN_NUMBER.match(text):
        return HeadingLabel("paren", _STYLE_RANK["paren"], int(m["num"]), True)
    if (m := _NUMBER.match(text)) and not re.match(r"^\d{3,}", text):  # "1978 Guidelines" is a title
        return HeadingLabel("number", _STYLE_RANK["number"], int(m["num"]), True)
    if m := _LETTER.match(text):
        return HeadingLabel("letter", _STYLE_RANK["letter"], ord(m["num"]) - ord("a") + 1, True)
    return HeadingLabel("plain", None, None, True)


@dataclass
class _Open:
    title: str
    label: HeadingLabel
    level: int


def _contains(outer: _Open, label: HeadingLabel, level: int) -> bool:
    """Whether a heading can sit inside `outer`: by numbering rank when both have one, else by depth."""
    if outer.label.rank is not None and label.rank is not None:
        if outer.label.rank != label.rank:
            return outer.label.rank < label.rank
        return level > outer.level  # same style, deeper markup, not a continuation: a new level
    return level > outer.level


def _continues(outer: _Open, label: HeadingLabel) -> bool:
    return (
        outer.label.style == label.style
        and label.number is not None
        and outer.label.number is not None
        and label.number == outer.label.number + 1
    )


def _continued_heading(stack: list[_Open], label: HeadingLabel, level: int) -> int | None:
    """Index of the open heading whose numbering this one continues, preferring the same depth."""
    candidates = [i for i in range(len(stack) - 1, -1, -1) if _continues(stack[i], label)]
    same_depth = [i for i in candidates if stack[i].level == level]
    return (same_depth or candidates or [None])[0]


def merge_label_headings(blocks: list[Block]) -> list[Block]:
    """Join a bare label heading (`Chapter 3`) with the title heading right after it.

    >>> merged = merge_label_headings([Block("heading", "Chapter 3", 0, 9, 2),
    ...                                Block("heading", "Strengthening", 11, 24, 2)])
    >>> merged[0].text
    'Chapter 3 Strengthening'
    """
    out: list[Block] = []
    for block in blocks:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.kind == block.kind == "heading"
            and not classify_heading(prev.text).has_title
            and classify_heading(block.text).style == "plain"
        ):
            out[-1] = Block("heading", f"{prev.text} {block.text}", prev.start, block.end, prev.level, prev.page)
        else:
            out.append(block)
    return out


def section_paths(blocks: list[Block]) -> list[tuple[str, ...]]:
    """The section path in force at each block (a heading's own path includes itself)."""
    stack: list[_Open] = []
    paths: list[tuple[str, ...]] = []
    for block in blocks:
        if block.kind == "heading":
            label = classify_heading(block.text)
            sibling_at = _continued_heading(stack, label, block.level)
            if sibling_at is not None:
                del stack[sibling_at:]
            else:
                while stack and not _contains(stack[-1], label, block.level):
                    stack.pop()
            stack.append(_Open(block.text.strip(), label, block.level))
        paths.append(tuple(h.title for h in stack))
    return paths
