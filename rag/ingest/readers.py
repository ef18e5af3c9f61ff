"""Turn files of each supported format into heading and paragraph blocks with offsets.

Readers do I/O and format parsing only; section structure and paragraph repair are in
`sections.py` and `paragraphs.py`, which work on the blocks whatever the format.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from rag.control_tokens import without_control_tokens
from rag.errors import UserError
from rag.records import Block
from rag.settings import Settings
from rag.ingest.sections import classify_heading
from rag.ingest.tables import text_rows

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
            ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx"}
FORMAT_NAMES = {"markdown": "Markdown", "text": "text", "html": "HTML", "pdf": "PDF", "docx": "Word"}  # as a user says them

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_BLANK_LINES = re.compile(r"\n[ \t]*\n")


class UnreadableFile(Exception):
    """A file that is skipped with a warning naming it (empty, binary, broken)."""


# C0 and C1 control characters but tab, newline, carriage return and form feed; ESC among them,
# so that document text can never drive a terminal.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
# A UTF-8 file with a few stray bytes: nearly all its non-ASCII bytes still form valid UTF-8
# sequences (in a cp1252 file, nearly none do). Up to this share invalid, it is read as UTF-8.
MAX_INVALID_UTF8 = 0.1


def clean(text: str) -> str:
    """A document's text as the index keeps it: no control characters, no language-model control
    tokens (`rag.control_tokens`: a document's `<|endoftext|>` reaches neither model nor page)."""
    return without_control_tokens(strip_controls(text))


def strip_controls(text: str) -> str:
    """Text without control characters (NUL, escape sequences' ESC, ...); layout characters stay.

    >>> strip_controls("a" + chr(27) + "]0;PWNED" + chr(7) + "b" + chr(0) + "c" + chr(9) + "d")
    'a]0;PWNEDbc\\td'
    """
    return _CONTROLS.sub("", text)


def decode_text(data: bytes, name: str, warn=None) -> str:
    """UTF-8 (a few invalid bytes replaced, with a warning), else a legacy 8-bit encoding when the
    bytes read as text; binary data is refused.

    A single stray byte must not turn a UTF-8 file into Latin-1 mojibake; random high bytes must
    not become chunks of garbage (charset-normalizer judges whether they read as any text).
    """
    if not data.strip():
        raise UnreadableFile(f"{name}: empty file")
    for bom, encoding in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                          (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):  # UTF-16/32 text has NUL bytes by design: its byte-order mark says so
            data = data.decode(encoding, errors="replace").encode("utf-8")
            break
    if b"\x00" in data[:8192]:
        raise UnreadableFile(f"{name}: looks binary, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        invalid = text.count("\ufffd")
        high = len(data) - len(data.decode("ascii", errors="ignore"))
        if invalid <= MAX_INVALID_UTF8 * high:
            if warn is not None:
                warn(f"{name}: {invalid} invalid UTF-8 byte(s) replaced")
        else:
            import charset_normalizer

            if charset_normalizer.from_bytes(data).best() is None:
                raise UnreadableFile(f"{name}: looks binary, not text")
            try:
                text, encoding = data.decode("cp1252"), "Windows-1252"
            except UnicodeDecodeError:
                text, encoding = data.decode("latin-1"), "Latin-1"
            if warn is not None:
                warn(f"{name}: not UTF-8 ({invalid} invalid byte(s)); read as {encoding}")
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.05 * min(len(text), 8192):
        raise UnreadableFile(f"{name}: looks binary, not text")
    return clean(text.replace("\r\n", "\n").replace("\r", "\n"))


def _split_on_blank_lines(text: str) -> list[tuple[str, int, int]]:
    """Non-empty runs of lines between blank lines, with their offsets."""
    pieces, pos = [], 0
    for m in list(_BLANK_LINES.finditer(text)) + [None]:
        end = m.start() if m else len(text)
        raw = text[pos:end]
        if raw.strip():
            lead = len(raw) - len(raw.lstrip())
            pieces.append((raw.strip(), pos + lead, pos + lead + len(raw.strip())))
        pos = m.end() if m else len(text)
    return pieces


def _is_bare_heading_line(line: str) -> bool:
    """A short numbered line without final punctuation, as headings look in plain text and PDF."""
    line = line.strip()
    return (0 < len(line) <= 100 and "\n" not in line and not line.endswith((".", ",", ";", ":"))
            and classify_heading(line).rank is not None)


def markdown_blocks(text: str) -> list[Block]:
    blocks = []
    for piece, start, end in _split_on_blank_lines(text):
        lines = piece.split("\n")
        if m := _MD_HEADING.match(lines[0]):
            blocks.append(Block("heading", m[2], start, start + len(lines[0]), len(m[1])))
            if len(lines) > 1:  # a paragraph glued to its heading line
                rest = piece[len(lines[0]) + 1:]
                # its lines joined like any paragraph's: a line break in a chunk marks merged paragraphs
                blocks.append(Block("paragraph", " ".join(line.strip() for line in lines[1:]).strip(),
                                    end - len(rest), end))
        elif len(lines) == 2 and _SETEXT.match(lines[1]):
            blocks.append(Block("heading", lines[0].strip(), start, end, 1 if lines[1][0] == "=" else 2))
        else:
            blocks.append(Block("paragraph", " ".join(line.strip() for line in lines), start, end))
    return blocks


def text_blocks(text: str) -> list[Block]:
    blocks = []
    for piece, start, end in _split_on_blank_lines(text):
        kind = "heading" if _is_bare_heading_line(piece) else "paragraph"
        blocks.append(Block(kind, " ".join(piece.split()), start, end, 1 if kind == "heading" else 0))
    return blocks


class _HTMLBlocks(HTMLParser):
    _BLOCK_TAGS = {"p", "li", "td", "th", "div", "blockquote", "pre", "dd", "dt", "section", "article",
                   "h1", "h2", "h3", "h4", "h5", "h6", "br", "tr", "caption", "figcaption", "body"}
    _SKIP = {"script", "style", "noscript", "template", "head"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.blocks: list[Block] = []
        self._buffer: list[str] = []
        self._start = 0
        self._heading_level = 0
        self._skip_depth = 0
        self._table_depth = 0
        self._rows: list[list[str]] = []  # the outermost table's rows, written with headers at its end
        self._table_start = 0

    def _offset(self) -> int:
        line, col = self.getpos()
        return self._line_starts[line - 1] + col

    def _flush(self) -> None:
        words = " ".join("".join(self._buffer).split())
        if words:
            kind = "heading" if self._heading_level else "paragraph"
            self.blocks.append(Block(kind, words, self._start, self._offset(), self._heading_level))
        self._buffer = []
        self._start = self._offset()

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag == "table":
            if not self._table_depth:
                self._flush()
                self._rows, self._table_start = [], self._offset()
            self._table_depth += 1
        elif self._table_depth:
            if tag == "tr" and self._table_depth == 1:
                self._rows.append([])
            elif tag in ("td", "th") and self._table_depth == 1:
                if not self._rows:
                    self._rows.append([])
                self._rows[-1].append("")
                self._buffer = []
        elif tag in self._BLOCK_TAGS:
            self._flush()
            if re.fullmatch(r"h[1-6]", tag):
                self._heading_level = int(tag[1])

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "table" and self._table_depth:
            self._table_depth -= 1
            if not self._table_depth:
                self._end_table()
        elif self._table_depth:
            if tag in ("td", "th") and self._table_depth == 1 and self._rows and self._rows[-1]:
                self._rows[-1][-1] = " ".join("".join(self._buffer).split())
                self._buffer = []
        elif tag in self._BLOCK_TAGS:
            self._flush()
            if re.fullmatch(r"h[1-6]", tag):
                self._heading_level = 0

    def handle_data(self, data):
        if self._table_depth and not (self._rows and self._rows[-1]):
            return  # text between a table's cells (whitespace, a stray caption) is not a cell
        if not self._skip_depth:
            if not self._buffer:
                self._start = self._offset()
            self._buffer.append(data)

    def _end_table(self) -> None:
        """Each row of the table written with its column headers and the text above it as title."""
        title = self.blocks[-1].text if self.blocks else ""
        for line in text_rows([row for row in self._rows if any(row)], title):
            self.blocks.append(Block("row", line, self._table_start, self._offset()))
        self._rows, self._buffer = [], []
        self._start = self._offset()

    def close(self):
        super().close()
        if self._table_depth:
            self._table_depth = 0
            self._end_table()
        self._flush()


def html_blocks(text: str) -> list[Block]:
    parser = _HTMLBlocks(text)
    parser.feed(text)
    parser.close()
    return parser.blocks


def pdf_blocks(path: Path) -> list[Block]:
    from rag.ingest.pdf import PdfUnreadable, pdf_blocks as read_pdf

    try:
        blocks, _ = read_pdf(path, clean=clean)
    except PdfUnreadable as exc:
        raise UnreadableFile(f"{path}: {exc}") from exc
    if not any(b.kind != "heading" for b in blocks):
        raise UnreadableFile(f"{path}: no extractable text (a scanned PDF needs OCR first)")
    return blocks


def unfit_file(path: Path, max_mb: int) -> str | None:
    """Why a file is skipped before it is opened (not a regular file, too large), or None.

    Checked before hashing: a named pipe or /dev/zero would block or never end."""
    import stat

    try:
        info = path.stat()
    except OSError as exc:
        return f"{path}: cannot read ({exc.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return f"{path}: not a regular file (a pipe, a device or a socket)"
    if info.st_size > max_mb * 1024 * 1024:
        return f"{path}: {info.st_size / 1048576:.0f} MB is over the limit of {max_mb} MB per file (--max-file-mb)"
    return None


ZIP_READ_BYTES = 1 << 20
_WORD_PARAGRAPH = re.compile(rb"<w:p[ />]")


def _check_zip_contents(path: Path, max_mb: int, max_paragraphs: int) -> None:
    """A .docx is a zip, and its directory can lie about sizes (a 3.9 MB file that said 1,000
    bytes inflated to 1.65 GB). Every member is inflated here a megabyte at a time, counting the
    bytes that come out, and the reading stops at the limit; the paragraphs of document.xml are
    counted in the same pass, so 200,000 tiny ones are refused before any XML is parsed."""
    import copy
    import zipfile

    limit = max_mb * 1024 * 1024
    inflated = paragraphs = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                unbounded = copy.copy(info)
                unbounded.file_size = limit + 1  # read what the data holds, not what the directory says
                counting = info.filename == "word/document.xml"
                tail = b""
                with archive.open(unbounded) as member:
                    while piece := member.read(ZIP_READ_BYTES):
                        inflated += len(piece)
                        if inflated > limit:
                            raise UnreadableFile(f"{path}: decompresses to over {max_mb} MB, the limit per file "
                                                 f"(--max-file-mb)")
                        if counting:
                            paragraphs += len(_WORD_PARAGRAPH.findall(tail + piece))
                            tail = piece[-4:]  # a 5-byte match across the seam counts once
                        if paragraphs > max_paragraphs:
                            raise UnreadableFile(f"{path}: over {max_paragraphs} paragraphs (empty ones included), "
                                                 f"the limit per file (8 x --max-passages)")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return  # python-docx names the damage below


def word_blocks(path: Path, max_mb: int = Settings.max_file_mb,
                max_paragraphs: int = 8 * Settings.max_passages) -> list[Block]:
    from zipfile import BadZipFile

    from docx.opc.exceptions import OpcError

    from rag.ingest.docx import docx_blocks

    _check_zip_contents(path, max_mb, max_paragraphs)
    try:
        blocks = docx_blocks(path, clean=clean)
    except (BadZipFile, OpcError, KeyError, ValueError) as exc:
        raise UnreadableFile(f"{path}: not a readable Word file ({exc.__class__.__name__})") from exc
    if not any(b.kind != "heading" for b in blocks):
        raise UnreadableFile(f"{path}: no text to index")
    return blocks


def read_blocks(path: Path, warn=None, max_mb: int = Settings.max_file_mb,
                max_blocks: int = 4 * Settings.max_passages) -> list[Block]:
    """Blocks of one file; raises UnreadableFile for a file to skip; `warn` hears of repairs."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UnreadableFile(f"{path}: unsupported file type {path.suffix or '(none)'}")
    if reason := unfit_file(path, max_mb):
        raise UnreadableFile(reason)
    blocks = _read_kind(path, kind, warn, max_mb, max_blocks)
    if len(blocks) > max_blocks:
        raise UnreadableFile(f"{path}: {len(blocks)} paragraphs, over the limit of {max_blocks} per file "
                             f"(4 x --max-passages)")
    return blocks


def _read_kind(path: Path, kind: str, warn, max_mb: int, max_blocks: int) -> list[Block]:
    if kind == "pdf":
        return pdf_blocks(path)
    if kind == "docx":
        return word_blocks(path, max_mb, 2 * max_blocks)  # empty paragraphs are counted there too
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read ({exc.strerror})") from exc
    text = decode_text(data, str(path), warn)
    blocks = {"markdown": markdown_blocks, "text": text_blocks, "html": html_blocks}[kind](text)
    if not any(b.kind != "heading" for b in blocks):
        raise UnreadableFile(f"{path}: no text to index")
    return blocks


def _files_under(folder: Path, warn) -> list[Path]:
    """Files below a folder, in a stable order; a folder that cannot be listed is named, not skipped silently."""
    import os

    def unreadable(error: OSError) -> None:
        if warn is not None:
            warn(f"skipped folder {error.filename}: cannot list it ({error.strerror})")

    found = []
    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        # FILE.card.json is a correction to FILE's card (ingest.cards), not a document
        found.extend(Path(root) / f for f in sorted(files) if not f.startswith(".") and not f.endswith(".card.json"))
    return sorted(found)


def find_documents(paths: list[Path], warn=None) -> list[Path]:
    """Supported files under the given paths, recursively, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UserError(f"no such file or folder: {path}")
        if path.is_dir():
            found.extend(p for p in _files_under(path, warn) if p.is_file())
        else:
            found.append(path)
    return list(dict.fromkeys(p.resolve() for p in found))
