"""Paragraphs to chunks that fit the embedding model: merge short neighbours, split long ones.

Pure: the token counter is passed in (the embedding model's own tokenizer in production), so
the limit is checked against exactly what the encoder will see, section title included.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

from rag.ingest.boilerplate import boilerplate_kind
from rag.ingest.paragraphs import split_sentences
from rag.records import Chunk, Paragraph, embedded_text as _embedded
from rag.settings import Settings

TokenCounter = Callable[[str], int]
# Raised when the readers change what a file gives (2: document cards, table rows with their
# headers, ligatures; 3: language-model control tokens removed): an index built before re-reads its
# files (unchanged texts keep their vectors).
READER_VERSION = 3


@dataclass(frozen=True)
class ChunkerConfig:
    """`max_tokens` is a hard limit on the embedded text; `min_tokens` is where merging stops.

    The last two bound what one file may cost: past either, the file is skipped with a line that
    names the limit (a wrong file dropped in the upload box must not tie up the server)."""

    max_tokens: int = 256
    min_tokens: int = 64
    target_tokens: int = 200
    max_file_mb: int = Settings.max_file_mb  # on disk, and a .docx's decompressed size
    max_passages: int = Settings.max_passages  # passages from one file (and 4x as many raw paragraphs)

    def shape(self) -> dict:
        """What decides a file's chunks (the manifest records it): the limits only skip files."""
        return {"max_tokens": self.max_tokens, "min_tokens": self.min_tokens, "target_tokens": self.target_tokens,
                "reader": READER_VERSION}

    @property
    def max_chars(self) -> int:
        """Characters a chunk may hold: WordPiece counts a word of over 100 characters as one
        [UNK], so a megabyte with no spaces would "fit" the token budget. Prose runs 4-6
        characters a token; 10 leaves room for long words and numbers."""
        return 10 * self.target_tokens


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def chunk_id(source: str, ordinal: int, text: str) -> str:
    """Stable across runs: the same text at the same place in the same file keeps its id."""
    return hashlib.sha1(f"{source}\x00{ordinal}\x00{text}".encode("utf-8")).hexdigest()[:16]


def split_unbroken(text: str, fits: Callable[[str], bool], window: int = 512) -> list[str]:
    """A run with no spaces (a URL, base64 data, a megabyte line) cut into slices that fit.

    Each slice is the longest of `window`, `window/2`, ... characters whose tokens fit.

    >>> split_unbroken("abcdefghij", lambda t: len(t) <= 4, window=4)
    ['abcd', 'efgh', 'ij']
    """
    out, start = [], 0
    while start < len(text):
        size = min(window, len(text) - start)
        while size > 1 and not fits(text[start:start + size]):
            size //= 2
        out.append(text[start:start + size])
        start += size
    return out


def pack_words(words: list[str], fits: Callable[[str], bool]) -> list[str]:
    """Consecutive words joined into the longest runs that fit, each word fitting on its own.

    The run's length is found by doubling, then halving: a few token counts per run, not one per
    word (per word, a megabyte line took minutes).

    >>> pack_words("a bb ccc dd e".split(), lambda t: len(t) <= 6)
    ['a bb', 'ccc dd', 'e']
    """
    out, start = [], 0
    while start < len(words):
        good, step = 1, 1  # words[start] alone fits
        while start + good < len(words) and fits(" ".join(words[start:start + good + step])):
            good += step
            step *= 2
        while step > 1:  # good fits, good + step does not (or runs past the end)
            step //= 2
            if start + good + step <= len(words) and fits(" ".join(words[start:start + good + step])):
                good += step
        out.append(" ".join(words[start:start + good]))
        start += good
    return out


def _split_long(paragraph: Paragraph, count: TokenCounter, config: ChunkerConfig,
                _embedded_in=_embedded) -> list[Paragraph]:
    """Split at sentence boundaries; an over-long sentence at word boundaries; an over-long word
    (no spaces to split at) at the token budget."""
    limit = config.target_tokens
    base = count(_embedded_in(paragraph.section, ""))

    def fits(text: str) -> bool:
        return len(text) <= config.max_chars and count(_embedded_in(paragraph.section, text)) <= limit

    def short_fits(word: str) -> bool:  # a byte-level or WordPiece token is at least one byte: no count needed
        return base + 4 * len(word) + 2 <= limit or fits(word)

    pieces: list[str] = []
    for sentence in split_sentences(paragraph.text):
        if fits(sentence):
            pieces.append(sentence)
            continue
        run: list[str] = []
        for word in sentence.split():
            if short_fits(word):
                run.append(word)
                continue
            pieces.extend(pack_words(run, fits))
            run = []
            pieces.extend(split_unbroken(word, fits))
        pieces.extend(pack_words(run, fits))

    groups: list[str] = []
    for piece in pieces:
        if groups and fits(f"{groups[-1]} {piece}"):
            groups[-1] = f"{groups[-1]} {piece}"
        else:
            groups.append(piece)
    # Offsets of a split piece are located in the paragraph text where possible.
    out, cursor = [], 0
    for text in groups:
        found = paragraph.text.find(text[:40], cursor)
        offset = paragraph.start + (found if found >= 0 else cursor)
        cursor = found + len(text) if found >= 0 else cursor
        out.append(Paragraph(text, paragraph.section, offset, min(offset + len(text), paragraph.end), paragraph.page))
    return out


def chunk_paragraphs(
    paragraphs: list[Paragraph], source: str, count: TokenCounter, config: ChunkerConfig = ChunkerConfig(),
    card: str = "",
) -> list[Chunk]:
    """Chunks of one document, in order. Every chunk's embedded text (with the document's `card`
    line) is within `max_tokens`."""
    _embedded_in = lambda section, text: _embedded(section, text, card)
    pieces: list[Paragraph] = []
    for paragraph in paragraphs:
        if (len(paragraph.text) > config.max_chars
                or count(_embedded_in(paragraph.section, paragraph.text)) > config.target_tokens):
            pieces.extend(_split_long(paragraph, count, config, _embedded_in))
        else:
            pieces.append(paragraph)

    merged: list[Paragraph] = []
    for piece in pieces:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev.section == piece.section
            and prev.page == piece.page
            and min(count(_embedded_in(prev.section, prev.text)), count(_embedded_in(piece.section, piece.text)))
            < config.min_tokens
            and len(prev.text) + len(piece.text) < config.max_chars
            and count(_embedded_in(piece.section, f"{prev.text}\n{piece.text}")) <= config.target_tokens
        ):
            merged[-1] = Paragraph(f"{prev.text}\n{piece.text}", prev.section, prev.start, piece.end, prev.page)
        else:
            merged.append(piece)

    chunks = []
    for ordinal, piece in enumerate(merged):
        if count(_embedded_in(piece.section, piece.text)) > config.max_tokens:
            raise AssertionError(f"chunker produced an over-long chunk in {source}")  # a bug, not user input
        chunks.append(Chunk(
            chunk_id=chunk_id(source, ordinal, piece.text),
            source=source,
            section=piece.section,
            text=piece.text,
            start=piece.start,
            end=piece.end,
            page=piece.page,
            content_hash=content_hash(_embedded_in(piece.section, piece.text)),
            boilerplate=boilerplate_kind(piece.text),
        ))
    return chunks
