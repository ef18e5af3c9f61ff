"""PDF page layout, from positioned words to blocks: lines, table rows, running headers and
footers, hyphenation, headings. Pure: `pdf.py` does the reading.

PDF has no paragraphs, only words placed on a page. The rules, in order:

- lines come in PDFium's reading order (the content stream's, which keeps columns apart); a gap
  between a line's text rectangles wider than CELL_GAP times the font size splits it into cells,
  and a line of two or more cells is a table row, kept as "| a | b |";
- a line in the top or bottom MARGIN of the page that repeats there (digits aside) on at least
  half the pages is a running header or footer; a line there that is only a page number goes too;
- a word broken by a hyphen at a line end is rejoined when the next line starts in lower case;
- a line is a heading when the document outline names it (its outline depth is its level), when
  it is numbered like one ("Part II", "Item 2.", "1.2 Title", "Goal 3:"), or when it is set at
  least HEADING_SIZE times larger than the body text; all only when short and not a sentence;
- a paragraph ends at a vertical gap wider than PARAGRAPH_GAP line heights, at a heading or row;
- a table-of-contents entry (a title, dot leaders, a page number) is navigation, not content: dropped;
- a table is a run of rows, with short text lines (group labels) between them; its title is the text
  just above it, its header rows are the rows with no values, and each data row is written with
  them ("Title — Label — 2018: (1,577); 2017: (1,373)", see `tables`), as a block of kind "row".
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from rag.ingest import tables
from rag.records import Block

CELL_GAP = 2.0
MARGIN = 0.09  # share of the page height at top and bottom where running headers and footers sit
PARAGRAPH_GAP = 1.6
HEADING_SIZE = 1.25
MAX_HEADING_CHARS = 120
MIN_FONT_SIZE = 3.0  # smaller text is hidden: tracking ids, white-on-white keywords


@dataclass(frozen=True)
class Line:
    """A line of a page as PDFium gives it, in its reading order, with its box and font size."""

    text: str
    top: float
    bottom: float
    size: float
    cells: int = 1
    margin: bool = False  # in the top or bottom MARGIN of the page, where running heads sit
    spans: tuple = ()  # a table row's cells (tables.Cell) with their x positions

    @property
    def is_row(self) -> bool:
        return self.cells >= 2


def cell_groups(rects: list[tuple[float, float, float, float]], size: float) -> list[list[int]]:
    """The line's text rectangles (left, bottom, right, top) grouped into cells at wide gaps.

    >>> cell_groups([(50, 0, 80, 10), (83, 0, 90, 10), (300, 0, 310, 10)], 10)
    [[0, 1], [2]]
    """
    order = sorted(range(len(rects)), key=lambda i: rects[i][0])
    groups: list[list[int]] = []
    right = None
    for i in order:
        if right is None or rects[i][0] - right > CELL_GAP * max(size, 1.0):
            groups.append([])
        groups[-1].append(i)
        right = rects[i][2] if right is None else max(right, rects[i][2])
    return groups


_CONTENTS_ENTRY = re.compile(r"(?:\.\s*){4,}\s*(?:\d{1,4}|[ivxlc]{1,6})\s*\|?$|…{2,}\s*\d{1,4}$", re.IGNORECASE)


def is_contents_entry(text: str) -> bool:
    """A table-of-contents line: "Apprenticeships & Learning........8".

    >>> is_contents_entry("Apprenticeships & Learning..........8"), is_contents_entry("It rose 8.5 percent.")
    (True, False)
    """
    return bool(_CONTENTS_ENTRY.search(text.strip()))


_PAGE_NUMBER = re.compile(r"^(?:page\s+)?(?:\d{1,4}|[ivxlc]{1,6})(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def strip_running(pages: list[list[Line]], size: float = 0.0) -> list[list[Line]]:
    """Pages without running headers, footers and bare page numbers. A line set as large as a
    heading (HEADING_SIZE times the body `size`) stays: "Quarter 3 Results" atop each page is a heading.

    >>> body = ["Alpha rises.", "Beta falls.", "Gamma holds.", "Delta ends."]
    >>> page = lambda n: [Line("Annual Report 2022", 800, 790, 9, margin=True), Line(body[n - 1], 700, 690, 10),
    ...                   Line("| Region | Tonnes |", 600, 590, 10, 2), Line(f"Page {n}", 40, 30, 9, margin=True)]
    >>> [[l.text for l in p] for p in strip_running([page(1), page(2), page(3), page(4)])][0]
    ['Alpha rises.', '| Region | Tonnes |']
    """
    margins = Counter()
    for lines in pages:
        margins.update({_shape(line.text) for line in lines if line.margin})
    running = {shape for shape, count in margins.items() if len(pages) >= 4 and count >= len(pages) / 2}
    large = lambda line: size and line.size >= HEADING_SIZE * size
    return [[line for line in lines
             if not (line.margin and not large(line)
                     and (_shape(line.text) in running or _PAGE_NUMBER.match(line.text.strip())))]
            for lines in pages]


_NUMBERED_HEADING = re.compile(
    r"^(?:part\s+[ivxlc\d]+\b|item\s+\d+[a-z]?\.|chapter\s+[\divxlc]+\b|section\s+\d+(?:\.\d+)*\b|"
    r"(?:goal|objective|strategy)\s+\d+(?:\.\d+)*\s*:|\d+(?:\.\d+){0,4}\.?\s+(?-i:[A-Z]))",
    re.IGNORECASE)


def heading_key(text: str) -> str:
    """How an outline title and a line are compared: "1. Safety" and "1 Safety" are the same heading."""
    return re.sub(r"[\W_]+", "", text.lower())


def is_heading(line: Line, body_size: float, outline: dict[str, int]) -> int:
    """The heading level of a line (0: not a heading)."""
    text = " ".join(line.text.split())
    if line.is_row or not text or len(text) > MAX_HEADING_CHARS:
        return 0
    if heading_key(text) in outline:
        return outline[heading_key(text)]
    sentence = text.endswith((".", ",", ";")) and not re.match(r"^item\s+\d+[a-z]?\.$", text, re.IGNORECASE)
    if sentence or len(text.split()) > 14:
        return 0
    if _NUMBERED_HEADING.match(text):
        return 1 + text.split()[0].rstrip(".").count(".") if text[0].isdigit() else 1
    if body_size and line.size >= HEADING_SIZE * body_size and re.search(r"[A-Za-z]{3}", text):
        return 1
    return 0


def body_size(pages: list[list[Line]]) -> float:
    """The font size of most of the text (weighted by characters)."""
    sizes = Counter()
    for lines in pages:
        for line in lines:
            sizes[line.size] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def rejoin(previous: str, following: str) -> str | None:
    """The two lines as one when a word was hyphenated across them, else None.

    >>> rejoin("the depart-", "ment said"), rejoin("the U.S.-", "Japan talks"), rejoin("well", "said")
    ('the department said', None, None)
    """
    if re.search(r"[a-z][-\u00ad\x02]$", previous) and re.match(r"[a-z]", following):
        return previous[:-1] + following
    return None


def page_blocks(lines: list[Line], page: int, size: float, outline: dict[str, int]) -> list[Block]:
    """Headings, table rows and paragraphs of one page, in reading order.

    Offsets count characters of the page's lines joined by newlines, as a citation's place.
    """
    blocks: list[Block] = []
    current: list[str] = []
    start = offset = 0
    previous: Line | None = None
    table = tables.TableState()
    in_table = False
    last_text = ""

    def flush(end: int):
        if current:
            blocks.append(Block("paragraph", " ".join(current), start, end, 0, page))
            current.clear()

    for line in lines:
        text = " ".join(line.text.split())
        if is_contents_entry(text):
            continue
        level = is_heading(line, size, outline)
        gap = previous is not None and (previous.bottom - line.top) > PARAGRAPH_GAP * max(1.0, line.top - line.bottom)
        if line.is_row and not in_table:
            table.begin(" ".join(current) or last_text)
        if level or line.is_row or gap or (previous is not None and previous.is_row):
            flush(offset)
        in_table = line.is_row or (in_table and not level and len(text) <= MAX_HEADING_CHARS
                                   and not text.endswith("."))
        if level:
            blocks.append(Block("heading", text, offset, offset + len(text), level, page))
            last_text = text
        elif line.is_row:
            row = table.read(list(line.spans), by_position=True) if line.spans else text
            blocks.append(Block("row", row or text, offset, offset + len(text), 0, page))
        else:
            if in_table:
                table.label = text
            last_text = " ".join(current + [text])
            joined = rejoin(current[-1], text) if current else None
            if joined is not None:
                current[-1] = joined
            else:
                if not current:
                    start = offset
                current.append(text)
        offset += len(text) + 1
        previous = line
    flush(offset)
    return blocks
