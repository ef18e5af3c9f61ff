"""Where reading, chunking and embedding run: in this process, or on a Ray cluster (`ray_engine`).

The indexer decides what to read and what to embed; an engine only does the work. Every engine
returns the same records, so the index it leads to is the same, whichever ran it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np

from rag.ingest.cards import SIDECAR_SUFFIX, DocumentCard, parse_sidecar, read_card, with_corrections
from rag.ingest.chunking import ChunkerConfig, chunk_paragraphs
from rag.ingest.paragraphs import repair_paragraphs
from rag.ingest.readers import UnreadableFile, read_blocks
from rag.records import Chunk

Progress = Callable[[int], None]


@dataclass
class FileChunks:
    """One file's chunks, or why it was skipped, with the warnings reading it raised."""

    source: str
    chunks: list[Chunk] | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    card: dict | None = None  # the document card (ingest.cards), user corrections applied


COVER_PAGES = 2  # a report's cover and the page after it say who, what and when
COVER_BLOCKS = 40  # for files without pages


BODY_CHARS = 2_000_000  # where a filing says when its fiscal year ends: a 200-page 10-Q is under 1.5 M characters


def document_card(path: Path, blocks) -> DocumentCard:
    """The card the document's cover and file name give, with the user's sidecar corrections."""
    cover = [b.text for b in blocks if (b.page or 1) <= COVER_PAGES][:COVER_BLOCKS if blocks and blocks[0].page
                                                                       else COVER_BLOCKS // 4]
    body = " ".join(b.text for b in blocks)[:BODY_CHARS]
    card = read_card(cover, path.name, body)
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        try:
            card = with_corrections(card, parse_sidecar(sidecar.read_text(encoding="utf-8"), str(sidecar)))
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise UnreadableFile(f"{exc}" if isinstance(exc, ValueError) else f"{sidecar}: cannot read ({exc})")
    return card


def sidecar_path(path: Path) -> Path:
    """FILE.card.json beside FILE: the user's corrections to its card."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def read_document(path: Path, count_tokens, config: ChunkerConfig, warn=None) -> tuple[list[Chunk], DocumentCard]:
    """A file's chunks, each carrying its document card's line, and the card."""
    blocks = read_blocks(path, warn, max_mb=config.max_file_mb, max_blocks=4 * config.max_passages)
    card = document_card(path, blocks)
    chunks = _chunks(path, blocks, count_tokens, config, card.line() if card.identified else "")
    return chunks, card


def chunk_file(path: Path, count_tokens, config: ChunkerConfig, warn=None) -> list[Chunk]:
    return read_document(path, count_tokens, config, warn)[0]


def _chunks(path: Path, blocks, count_tokens, config: ChunkerConfig, card: str) -> list[Chunk]:
    least = sum(len(b.text) for b in blocks) // config.max_chars  # a passage holds at most max_chars
    if least > config.max_passages:  # known before any token is counted: refuse now, not after minutes
        raise UnreadableFile(f"{path}: at least {least} passages, over the limit of {config.max_passages} per file "
                             f"(--max-passages)")
    chunks = chunk_paragraphs(repair_paragraphs(blocks), str(path), count_tokens, config, card)
    if len(chunks) > config.max_passages:
        raise UnreadableFile(f"{path}: {len(chunks)} passages, over the limit of {config.max_passages} per file "
                             f"(--max-passages)")
    return chunks


def read_one(path: Path, count_tokens, config: ChunkerConfig) -> FileChunks:
    """Never raises: one bad file is a skip with a reason, not the end of a build."""
    result = FileChunks(str(path))
    started = time.perf_counter()
    try:
        result.chunks, card = read_document(path, count_tokens, config, result.warnings.append)
        result.card = card.to_json()
    except Exception as exc:
        result.error = (f"skipped {exc}" if isinstance(exc, (UnreadableFile, OSError)) else
                        f"skipped {path}: {exc.__class__.__name__}: {exc}")
    result.seconds = time.perf_counter() - started
    return result


class Engine(Protocol):
    name: str

    def chunk_files(self, files: list[Path], config: ChunkerConfig, embedder) -> Iterator[FileChunks]:
        """Each file's result, in any order; chunk sizes counted with `embedder`'s tokenizer."""

    def embed(self, texts: list[str], embedder, progress: Progress | None = None) -> np.ndarray:
        """`embedder`'s passage vectors, one row per text, in the order given."""


class LocalEngine:
    """This process, with the embedder already loaded for the build."""

    name = "local"

    def chunk_files(self, files: list[Path], config: ChunkerConfig, embedder) -> Iterator[FileChunks]:
        for path in files:
            yield read_one(path, embedder.count_tokens, config)

    def embed(self, texts: list[str], embedder, progress: Progress | None = None) -> np.ndarray:
        return embedder.embed_passages(texts, progress=progress)

    def close(self) -> None:
        pass
