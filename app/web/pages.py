"""The cited page of a PDF as a picture, with the cited sentence highlighted.

PDFium renders the page and finds the sentence with its own text search, which gives the
rectangles to mark. A picture is made when a source is shown and kept on disk (keyed by the
file's content, the page and the sentence), so showing it again costs a file read.
"""
from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

MAX_WIDTH = 900
SCALE = 1.5
PROBE_WORDS = (8, 5, 3)  # how many words of the sentence's start and end are searched for


def cache_dir() -> Path:
    from rag import paths

    return paths.home() / "page-pictures"


def _key(source: Path, page: int, sentence: str) -> str:
    stat = source.stat()
    text = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{page}|{sentence}"
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def _find(textpage, words: list[str], start: int = 0) -> tuple[int, int] | None:
    """(char index, count) of the first match of a probe of `words`, longest probe first."""
    for n in PROBE_WORDS:
        probe = " ".join(words[:n])
        if len(probe) < 4:
            continue
        searcher = textpage.search(probe, index=start, match_case=False)
        found = searcher.get_next()
        searcher.close()
        if found:
            return found
    return None


def _matches(textpage, text: str) -> list[tuple[int, int]]:
    searcher = textpage.search(text, match_case=False)
    found = []
    while (hit := searcher.get_next()) and len(found) < 50:
        found.append(hit)
    searcher.close()
    return found


def row_rects(textpage, label: str, value: str = "") -> list[tuple[float, float, float, float]]:
    """One rectangle over a table row found by its label (on the line that holds `value`, when the
    label is written elsewhere on the page too): from the label to the last character set on the
    same line (the row's cells), so a value read from a cell is marked with its row."""
    label = " ".join(label.split())
    if len(label) < 2:
        return []
    value_boxes = [textpage.get_charbox(start) for start, _ in _matches(textpage, value)] if value else []
    best = None
    for start, count in _matches(textpage, label):
        rects = [textpage.get_rect(i) for i in range(textpage.count_rects(start, count))]
        if not rects:
            continue
        bottom, top = min(r[1] for r in rects), max(r[3] for r in rects)
        on_line = any(min(top, b[3]) - max(bottom, b[1]) > 0 for b in value_boxes)
        if best is None or (on_line and not best[0]):
            best = (on_line, rects)
    if best is None:
        return []
    rects = best[1]
    left, bottom, right, top = rects[0][0], min(r[1] for r in rects), max(r[2] for r in rects), max(r[3] for r in rects)
    for index in range(textpage.count_chars()):
        box = textpage.get_charbox(index)
        overlap = min(top, box[3]) - max(bottom, box[1])
        if box[0] >= left and box[3] > box[1] and overlap > 0.5 * (box[3] - box[1]):
            right = max(right, box[2])
    return [(left, bottom, right, top)]


def sentence_rects(textpage, sentence: str) -> list[tuple[float, float, float, float]]:
    """Rectangles (left, bottom, right, top) covering the sentence's first to last words on the page;
    for a table row as the readers write it ("Title — Label — 2018: 1,577"), its row on the page."""
    from rag.render import ROW_SEPARATOR

    parts = sentence.split(ROW_SEPARATOR)
    if len(parts) >= 2 and re.search(r":\s*\S*\d", parts[-1]):
        first_value = re.search(r":\s*[$(€£-]*([\d.,]*\d)", parts[-1])
        return row_rects(textpage, parts[-2] if len(parts) >= 3 else parts[0], first_value.group(1) if first_value else "")
    words = [w for w in re.sub(r"[|]", " ", sentence).split() if w]
    head = _find(textpage, words)
    if head is None:
        return []
    tail = _find(textpage, list(reversed(words))[:8][::-1][-5:], head[0]) if len(words) > 8 else None
    end = tail[0] + tail[1] if tail and tail[0] >= head[0] else head[0] + head[1]
    return [textpage.get_rect(i) for i in range(textpage.count_rects(head[0], end - head[0]))]


def render_cited_page(source: Path, page: int, sentence: str) -> bytes | None:
    """JPEG bytes of page `page` (from 1) with the sentence marked; None when it cannot be drawn."""
    cached = cache_dir() / f"{_key(source, page, sentence)}.jpg"
    if cached.is_file():
        return cached.read_bytes()
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    try:
        document = pdfium.PdfDocument(str(source))
    except (pdfium.PdfiumError, OSError):
        return None
    try:
        if not 1 <= page <= len(document):
            return None
        pdf_page = document[page - 1]
        width, height = pdf_page.get_size()
        scale = min(SCALE, MAX_WIDTH / max(width, 1.0))
        textpage = pdf_page.get_textpage()
        rects = sentence_rects(textpage, sentence) if sentence else []
        image = pdf_page.render(scale=scale).to_pil().convert("RGB")
        textpage.close()
        pdf_page.close()
    finally:
        document.close()
    if rects:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for left, bottom, right, top in rects:
            draw.rectangle([left * scale - 1, (height - top) * scale - 1, right * scale + 1,
                            (height - bottom) * scale + 1], fill=(253, 224, 71, 120))
        image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=72, optimize=True)
    data = out.getvalue()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".tmp")
        partial.write_bytes(data)
        partial.replace(cached)
    except OSError:
        pass  # a read-only cache costs a re-render, nothing more
    return data
