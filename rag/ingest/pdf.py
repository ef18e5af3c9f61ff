"""Reading PDF with PDFium (pypdfium2): positioned words, the outline, and page pictures.

PDFium is the engine Chrome uses: it opens files that stricter parsers refuse, ignores owner
passwords (permissions) as every viewer does, and reads hundreds of pages a second. Layout
(lines, rows, headings) is pure logic in `pdf_layout.py`.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from rag.ingest import ligatures, pdf_layout, tables
from rag.records import Block


class PdfUnreadable(Exception):
    """The reason a PDF cannot be read, as one line for the reader's warning."""


def open_document(path: Path):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise PdfUnreadable("the PDF needs a password to open") from exc
        raise PdfUnreadable(f"unreadable PDF ({exc})") from exc


SOFT_HYPHEN = re.compile("[\ufffe\x02\u00ad](?=[a-z])")  # PDFium marks a word it rejoined across lines


_RUN_TOGETHER = re.compile(r"[a-z][A-Z]|[A-Za-z]{15,}")  # "ThisStrategicPlan": words with no space between
WORD_GAP_EM = 0.2  # a gap between two glyphs wider than this share of the font size is a space
NUMBER_GAP_EM = 0.6  # inside a number, wider gaps are kerning ("1 0.2%" is 10.2%)
_NUMBER_CHARS = set("0123456789.,%)")


def spaced_by_gaps(textpage, first: int, text: str, size: float) -> str:
    """The line with a space wherever the page leaves a word gap but its text layer has no space
    character (some PDFs place words apart without spaces). Read only for lines whose words run
    together, from PDFium's box of each character.
    """
    import ctypes

    import pypdfium2.raw as raw

    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    out, previous_right = [], None
    for offset, char in enumerate(text):
        if char.isspace():
            out.append(char)
            previous_right = None
            continue
        if not raw.FPDFText_GetCharBox(textpage.raw, first + offset, left, right, bottom, top):
            out.append(char)
            continue
        if previous_right is not None and left.value - previous_right > WORD_GAP_EM * size:
            out.append(" ")
        out.append(char)
        previous_right = right.value
    return "".join(out)


def char_cells(textpage, first: int, text: str, size: float) -> list[tables.Cell]:
    """A table row's cells from PDFium's box of each character: words split at spaces or at gaps
    over WORD_GAP_EM, then grouped into cells (`tables.group_cells`). Reading characters (not the
    text inside each rectangle) keeps letter-spaced cells whole ("T i t l e" was one rectangle a
    letter) and overlapping rectangles from repeating text."""
    import ctypes

    import pypdfium2.raw as raw

    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    words: list[list] = []  # [left, right, characters]
    previous_right, space = None, True
    for offset, char in enumerate(text):
        if char.isspace() or not raw.FPDFText_GetCharBox(textpage.raw, first + offset, left, right, bottom, top):
            space = True
            continue
        gap = left.value - previous_right if previous_right is not None else 0.0
        in_number = words and words[-1][2][-1] in _NUMBER_CHARS and char in _NUMBER_CHARS
        if space or previous_right is None or gap > (NUMBER_GAP_EM if in_number else WORD_GAP_EM) * size:
            words.append([left.value, right.value, [char]])
        else:
            words[-1][2].append(char)
            words[-1][1] = max(words[-1][1], right.value)
        previous_right, space = right.value, False
    cells = tables.group_cells([tables.Cell("".join(chars), l, r) for l, r, chars in words],
                               pdf_layout.CELL_GAP * max(size, 1.0))
    return [tables.Cell(ligatures.repair_text(c.text, ligatures.known), c.left, c.right) for c in cells]


def page_lines(textpage, height: float) -> list[pdf_layout.Line]:
    """The page's lines in PDFium's reading order, each with its box, font size and cells.

    PDFium's text has one character per character index, so a line's offset in the text is the
    index of its first character; its boxes and font size come from there (a few calls a line).
    """
    import ctypes

    import pypdfium2.raw as raw

    text = textpage.get_text_range()
    band = pdf_layout.MARGIN * height
    c_left, c_right, c_bottom, c_top = (ctypes.c_double() for _ in range(4))
    lines = []
    for match in re.finditer(r"[^\r\n]+", text):
        segment = match.group()
        stripped = segment.strip()
        if not stripped:
            continue
        first = match.start() + len(segment) - len(segment.lstrip())
        size = float(raw.FPDFText_GetFontSize(textpage.raw, first))
        if size < pdf_layout.MIN_FONT_SIZE:
            continue  # hidden text: tracking ids, white-on-white keywords
        rects = []
        for i in range(raw.FPDFText_CountRects(textpage.raw, first, len(stripped))):
            raw.FPDFText_GetRect(textpage.raw, i, c_left, c_top, c_right, c_bottom)
            rects.append((c_left.value, c_bottom.value, c_right.value, c_top.value))
        if not rects:
            continue
        if _RUN_TOGETHER.search(stripped):
            stripped = spaced_by_gaps(textpage, first, stripped, size)
        cells = pdf_layout.cell_groups(rects, size)
        spans: tuple = ()
        if len(cells) >= 2:  # a table row: its cells from the characters' own boxes
            spans = tuple(c for c in char_cells(textpage, first, segment[first - match.start():], size)
                          if c.text.strip())
            stripped = "| " + " | ".join(c.text for c in spans) + " |" if len(spans) >= 2 else stripped
            spans = spans if len(spans) >= 2 else ()
        top, bottom = max(r[3] for r in rects), min(r[1] for r in rects)
        text = ligatures.repair_text(SOFT_HYPHEN.sub("", stripped), ligatures.known)
        if not text.strip("| "):
            continue  # nothing but glyph debris
        lines.append(pdf_layout.Line(text, top, bottom, size, len(spans) or 1,
                                     margin=top >= height - band or bottom <= band, spans=spans))
    return lines


def outline(document) -> dict[str, int]:
    """{heading key: depth from 1} of the bookmarks; a broken outline gives what it can."""
    titles: dict[str, int] = {}
    try:
        for bookmark in document.get_toc(max_depth=6):
            title = " ".join((bookmark.get_title() or "").split())
            if title:
                titles.setdefault(pdf_layout.heading_key(title), bookmark.level + 1)
    except Exception:  # a damaged outline must not cost the text
        pass
    return titles


def pdf_blocks(path: Path, clean=None) -> tuple[list[Block], int]:
    """Blocks of a PDF and its page count; `clean` is applied to every line's text."""
    document = open_document(path)
    try:
        pages = []
        for number in range(len(document)):
            page = document[number]
            textpage = page.get_textpage()
            try:
                pages.append(page_lines(textpage, page.get_height()))
            finally:
                textpage.close()
                page.close()
        titles = outline(document)
        page_count = len(document)
    finally:
        document.close()
    size = pdf_layout.body_size(pages)
    pages = pdf_layout.strip_running(pages, size)
    blocks = [b for number, lines in enumerate(pages, start=1)
              for b in pdf_layout.page_blocks(lines, number, size, titles)]
    if clean is not None:
        blocks = [replace(b, text=clean(b.text)) for b in blocks]
    return blocks, page_count
