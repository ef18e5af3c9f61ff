"""Build or update an index folder from documents: read, chunk, embed what is new, write atomically."""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rag.index import store
from rag.ingest.chunking import ChunkerConfig, chunk_paragraphs
from rag.errors import UserError
from rag.hashing import sha256_file
from rag.index.dense import build_dense, resolve_factory
from rag.index.lexical import build_bm25
from rag.ingest.paragraphs import repair_paragraphs
from rag.ingest.readers import UnreadableFile, find_documents, read_blocks
from rag.records import Chunk

Warn = Callable[[str], None]


@dataclass
class IndexReport:
    """What a build changed, in files and chunks."""

    files_added: list[str] = field(default_factory=list)
    files_updated: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_unchanged: int = 0
    files_skipped: list[str] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_embedded: int = 0
    chunks_total: int = 0
    pages_read: int = 0  # PDF pages read in this build (unchanged files are not read)
    reading_s: float = 0.0  # time spent reading and chunking the files read

    def summary(self) -> str:
        reading = (f"; read and chunked {self.pages_read} PDF pages at {self.pages_read / self.reading_s:.0f} pages/s"
                   if self.pages_read and self.reading_s > 0 else "")
        return (f"files: {len(self.files_added)} added, {len(self.files_updated)} updated, "
                f"{len(self.files_removed)} removed, {self.files_unchanged} unchanged, "
                f"{len(self.files_skipped)} skipped; chunks: {self.chunks_added} added, "
                f"{self.chunks_removed} removed, {self.chunks_embedded} embedded, {self.chunks_total} in the index"
                + reading)


def chunk_file(path: Path, count_tokens, config: ChunkerConfig, warn: Warn | None = None) -> list[Chunk]:
    return chunk_paragraphs(repair_paragraphs(read_blocks(path, warn)), str(path), count_tokens, config)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("rag-local", "sentence-transformers", "faiss-cpu", "bm25s", "torch"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            pass
    return out


def _previous(index_dir: Path, embedder, warn: Warn):
    """The live generation to update, or None for a first (or rebuilt-after-corruption) build."""
    if not store.is_index(index_dir):
        return None
    try:
        previous = store.load(index_dir)
    except UserError as exc:
        warn(f"warning: {exc}; building a new index")
        return None
    if previous.manifest.embedding_model != embedder.name:
        raise UserError(
            f"index {index_dir} was built with embedding model {previous.manifest.embedding_model!r}, "
            f"not {embedder.name!r}; use another --index folder"
        )
    return previous


def build_index(paths: list[Path], index_dir: Path, embedder, chunker: ChunkerConfig = ChunkerConfig(),
                faiss_factory: str = "auto", warn: Warn = lambda m: print(m, file=sys.stderr),
                progress: bool = True) -> IndexReport:
    """Add new and changed files under `paths`, drop deleted ones, embed only unseen chunk texts."""
    from tqdm import tqdm

    store.check_writable_target(index_dir)
    chunker = ChunkerConfig(**{**asdict(chunker), "max_tokens": min(chunker.max_tokens, embedder.max_tokens)})
    files = find_documents(paths, warn)
    with store.write_lock(index_dir):
        previous = _previous(index_dir, embedder, warn)
        old_files = previous.manifest.files if previous else {}
        same_chunker = previous is not None and previous.manifest.chunker == asdict(chunker)
        old_by_source: dict[str, list[int]] = {}
        for row, chunk in enumerate(previous.chunks if previous else []):
            old_by_source.setdefault(chunk.source, []).append(row)

        report = IndexReport()
        kept: dict[str, list[Chunk]] = {}
        new_files: dict[str, dict] = {}
        for path in tqdm(files, desc="reading", unit="file", disable=not progress or len(files) < 20, file=sys.stderr):
            source = str(path)
            try:
                sha = sha256_file(path)
                if same_chunker and old_files.get(source, {}).get("sha256") == sha:
                    kept[source] = [previous.chunks[r] for r in old_by_source.get(source, [])]
                    report.files_unchanged += 1
                else:
                    started = time.perf_counter()
                    kept[source] = chunk_file(path, embedder.count_tokens, chunker, warn)
                    report.reading_s += time.perf_counter() - started
                    report.pages_read += max((c.page or 0 for c in kept[source]), default=0)
                    (report.files_updated if source in old_files else report.files_added).append(source)
            except Exception as exc:  # one bad file never breaks a build: it is named and skipped
                warn(f"skipped {exc}" if isinstance(exc, (UnreadableFile, OSError)) else
                     f"skipped {path}: {exc.__class__.__name__}: {exc}")
                report.files_skipped.append(source)
                if source in old_files:  # keep what was indexed when a file turns unreadable
                    kept[source] = [previous.chunks[r] for r in old_by_source.get(source, [])]
                    sha = old_files[source]["sha256"]
                else:
                    continue
            new_files[source] = {"sha256": sha, "size": path.stat().st_size, "chunks": len(kept[source])}

        # Files indexed earlier and not named now stay, unless they were deleted from disk.
        for source, info in old_files.items():
            if source in new_files:
                continue
            if Path(source).exists():
                kept[source] = [previous.chunks[r] for r in old_by_source.get(source, [])]
                new_files[source] = info
            else:
                report.files_removed.append(source)

        chunks = [chunk for source in new_files for chunk in kept[source]]
        if not chunks:
            where = ", ".join(str(p) for p in paths)
            raise UserError(f"nothing readable to index in {where}" + (" (the index is unchanged)" if previous else ""))

        old_ids = {c.chunk_id for c in previous.chunks} if previous else set()
        new_ids = {c.chunk_id for c in chunks}
        report.chunks_added = len(new_ids - old_ids)
        report.chunks_removed = len(old_ids - new_ids)
        report.chunks_total = len(chunks)

        vectors = _embed_with_cache(chunks, previous, embedder, progress, report)
        faiss_factory = resolve_factory(faiss_factory, len(chunks))
        manifest = store.Manifest(
            embedding_model=embedder.name, dimension=embedder.dimension, query_prefix=embedder.query_prefix,
            passage_prefix=embedder.passage_prefix, max_tokens=embedder.max_tokens, chunker=asdict(chunker),
            faiss_factory=faiss_factory, files=new_files, versions=_versions(),
        )
        store.write_generation(index_dir, manifest, chunks, vectors, build_dense(vectors, faiss_factory),
                               build_bm25(chunks))
    return report


def _embed_with_cache(chunks: list[Chunk], previous, embedder, progress: bool, report: IndexReport) -> np.ndarray:
    """Reuse the vectors of texts embedded before (by content hash); embed the rest once each."""
    from tqdm import tqdm

    cached: dict[str, np.ndarray] = {}
    if previous is not None:
        for chunk, vector in zip(previous.chunks, previous.vectors):
            cached[chunk.content_hash] = vector
    todo = list(dict.fromkeys(c.content_hash for c in chunks if c.content_hash not in cached))
    text_of = {c.content_hash: c.embedding_text() for c in chunks}
    if todo:
        with tqdm(total=len(todo), desc="embedding", unit="chunk", file=sys.stderr,
                  disable=not progress or len(todo) < 64) as bar:
            fresh = embedder.embed_passages([text_of[h] for h in todo], progress=bar.update)
        cached.update(zip(todo, fresh))
    report.chunks_embedded = len(todo)
    return np.vstack([cached[c.content_hash] for c in chunks]).astype(np.float32)
