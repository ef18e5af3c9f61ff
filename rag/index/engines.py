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


def chunk_file(path: Path, count_tokens, config: ChunkerConfig, warn=None) -> list[Chunk]:
    blocks = read_blocks(path, warn, max_mb=config.max_file_mb, max_blocks=4 * config.max_passages)
    least = sum(len(b.text) for b in blocks) // config.max_chars  # a passage holds at most max_chars
    if least > config.max_passages:  # known before any token is counted: refuse now, not after minutes
        raise UnreadableFile(f"{path}: at least {least} passages, over the limit of {config.max_passages} per file "
                             f"(--max-passages)")
    chunks = chunk_paragraphs(repair_paragraphs(blocks), str(path), count_tokens, config)
    if len(chunks) > config.max_passages:
        raise UnreadableFile(f"{path}: {len(chunks)} passages, over the limit of {config.max_passages} per file "
                             f"(--max-passages)")
    return chunks


def read_one(path: Path, count_tokens, config: ChunkerConfig) -> FileChunks:
    """Never raises: one bad file is a skip with a reason, not the end of a build."""
    result = FileChunks(str(path))
    started = time.perf_counter()
    try:
        result.chunks = chunk_file(path, count_tokens, config, result.warnings.append)
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
