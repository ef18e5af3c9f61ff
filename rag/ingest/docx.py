"""Reading Word files (.docx) with python-docx: headings from the heading styles, paragraphs and
table rows in document order. Word files have no fixed pages, so blocks carry none."""
from __future__ import annotations

import re
from pathlib import Path

from rag.ingest.tables import text_rows
from rag.records import Block

_HEADING_STYLE = re.compile(r"^heading\s+([1-9])$", re.IGNORECASE)


def heading_level(style_name: str) -> int:
    """1 for "Title", 2-10 for "Heading 1".."Heading 9" (a title holds the headings), 0 for body styles.

    >>> heading_level("Title"), heading_level("Heading 1"), heading_level("Heading 3"), heading_level("Normal")
    (1, 2, 4, 0)
    """
    name = (style_name or "").strip()
    if name.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(name)
    return int(match.group(1)) + 1 if match else 0


def style_names(document) -> dict[str | None, str]:
    """Paragraph style id -> name, with None for the default style, read once per file.

    python-docx's `paragraph.style` scans every style of the file for the default on each call:
    about 1 ms a paragraph, 4 minutes for a file of 200,000 tiny paragraphs."""
    from docx.enum.style import WD_STYLE_TYPE

    names = {}
    for style in document.styles:
        try:
            names[style.style_id] = style.name or ""
        except (KeyError, ValueError):
            continue
    try:
        default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    except (KeyError, ValueError):
        default = None
    names[None] = default.name if default is not None else ""
    return names


def docx_blocks(path: Path, clean=lambda text: text) -> list[Block]:
    """Blocks in document order; a table row becomes "| a | b |" (merged cells once)."""
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = Document(str(path))
    styles = style_names(document)
    blocks: list[Block] = []
    offset = 0

    def add(kind: str, text: str, level: int = 0):
        nonlocal offset
        text = " ".join(clean(text).split())
        if text:
            blocks.append(Block(kind, text, offset, offset + len(text), level))
            offset += len(text) + 1

    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            level = heading_level(styles.get(item._p.style, ""))  # a style id the file does not define: body
            add("heading" if level else "paragraph", item.text, level)
        elif isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells = list(dict.fromkeys(c._tc for c in row.cells))  # a merged cell repeats
                rows.append([" ".join(clean(next(c for c in row.cells if c._tc is tc).text).split()) for tc in cells])
            title = next((b.text for b in reversed(blocks)), "")
            for line in text_rows([r for r in rows if any(r)], title):  # each row with its headers
                add("row", line)
    return blocks
