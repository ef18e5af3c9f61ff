"""Build or update an index folder from documents: read, chunk, embed what is new, write atomically."""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rag.index import store
from rag.index.engines import Engine, LocalEngine
from rag.ingest.chunking import ChunkerConfig
from rag.errors import UserError
from rag.hashing import sha256_file
from rag.index.dense import build_dense, resolve_factory
from rag.index.lexical import build_bm25
from rag.ingest.readers import find_documents, unfit_file
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
        previous.chunks = list(previous.chunks)  # every row parsed now: a damaged one means a rebuild
    except UserError as exc:
        warn(f"warning: {exc.args[0].split('; rebuild')[0]}; rebuilding it from the documents")
        return None
    if previous.manifest.embedding_model != embedder.name:
        raise UserError(
            f"index {index_dir} was built with embedding model {previous.manifest.embedding_model!r}, "
            f"not {embedder.name!r}; use another --index folder"
        )
    return previous


@dataclass
class _Build:
    """One build's working state: what the live generation held, and what the new one keeps."""

    previous: object  # the live generation (store.Index), or None for a first build
    warn: Warn
    report: IndexReport = field(default_factory=IndexReport)
    kept: dict = field(default_factory=dict)  # source -> its chunks in the new generation
    new_files: dict = field(default_factory=dict)  # source -> its manifest entry
    to_read: list = field(default_factory=list)
    digests: dict = field(default_factory=dict)

    def __post_init__(self):
        self.old_files = self.previous.manifest.files if self.previous else {}
        self.old_chunks = self.previous.chunks if self.previous else []
        self.old_by_source: dict[str, list[int]] = {}
        for row, chunk in enumerate(self.old_chunks):
            self.old_by_source.setdefault(chunk.source, []).append(row)

    def keep_old(self, source: str, info: dict) -> None:
        self.kept[source] = [self.old_chunks[r] for r in self.old_by_source.get(source, [])]
        self.new_files[source] = info

    def skip(self, source: str, message: str) -> None:
        """Name the file; keep what was indexed of it before (a file that turned unreadable)."""
        self.warn(message)
        self.report.files_skipped.append(source)
        if source in self.old_files:
            self.keep_old(source, self.old_files[source])


def build_index(paths: list[Path], index_dir: Path, embedder, chunker: ChunkerConfig = ChunkerConfig(),
                faiss_factory: str = "auto", warn: Warn = lambda m: print(m, file=sys.stderr),
                progress: bool = True, engine: Engine | None = None) -> IndexReport:
    """Add new and changed files under `paths`, drop deleted ones, embed only unseen chunk texts.

    `engine` runs the reading and embedding (default: this process); the index is the same either way.
    """
    from tqdm import tqdm

    engine = engine or LocalEngine()
    store.check_writable_target(index_dir)
    chunker = ChunkerConfig(**{**asdict(chunker), "max_tokens": min(chunker.max_tokens, embedder.max_tokens)})
    files = find_documents(paths, warn)
    with store.write_lock(index_dir):
        build = _Build(_previous(index_dir, embedder, warn), warn)
        if build.previous is None:  # a damaged index is rebuilt with every file its manifest named
            files += [p for p in store.named_files(index_dir) if p not in files]
        _sort_files(build, files, chunker)
        # One display from the first file read to the last vector written: reading, then embedding
        bar = tqdm(total=len(build.to_read), desc="reading", unit="file", file=sys.stderr, disable=not progress)
        try:
            _read_changed(build, engine, chunker, embedder, bar)
            _settle_files(build, files)
            chunks = [chunk for source in build.new_files for chunk in build.kept[source]]
            if not chunks:
                where = ", ".join(str(p) for p in paths)
                raise UserError(f"nothing readable to index in {where}" +
                                (" (the index is unchanged)" if build.previous else ""))
            _write(build, chunks, index_dir, embedder, chunker, faiss_factory, engine, bar)
        finally:
            bar.close()
    return build.report


def _sort_files(build: _Build, files: list[Path], chunker: ChunkerConfig) -> None:
    """Each named file: skipped (unfit, unreadable), kept as indexed (same bytes, same chunker),
    or to be read."""
    same_chunker = build.previous is not None and build.previous.manifest.chunker == chunker.shape()
    for path in files:
        source = str(path)
        if reason := unfit_file(path, chunker.max_file_mb):  # before hashing: a pipe would block it
            build.skip(source, f"skipped {reason}")
            continue
        try:
            build.digests[source] = _digest(path)
        except OSError as exc:
            build.skip(source, f"skipped {exc}")
            continue
        old = build.old_files.get(source, {})
        if same_chunker and old.get("sha256") == build.digests[source]:
            build.keep_old(source, {"sha256": build.digests[source], "size": path.stat().st_size,
                                    "chunks": len(build.old_by_source.get(source, [])), "card": old.get("card")})
            build.report.files_unchanged += 1
        else:
            build.to_read.append(path)


def _read_changed(build: _Build, engine: Engine, chunker: ChunkerConfig, embedder, bar) -> None:
    """Read and chunk the new and changed files, on the engine; the bar counts files and pages."""
    report = build.report
    for result in engine.chunk_files(build.to_read, chunker, embedder):
        bar.update(1)
        for message in result.warnings:
            build.warn(message)
        source = result.source
        if result.error is not None:
            build.skip(source, result.error)
            continue
        build.kept[source] = result.chunks
        report.reading_s += result.seconds
        report.pages_read += max((c.page or 0 for c in result.chunks), default=0)
        if report.pages_read:
            bar.set_postfix(pages=report.pages_read,
                            pages_per_s=f"{report.pages_read / max(bar.format_dict['elapsed'], 1e-6):.0f}")
        (report.files_updated if source in build.old_files else report.files_added).append(source)
        build.new_files[source] = {"sha256": build.digests[source], "size": Path(source).stat().st_size,
                                   "chunks": len(result.chunks), "card": result.card}


def _settle_files(build: _Build, files: list[Path]) -> None:
    """The new generation's files in the order named (whatever order the engine finished them in),
    then the files indexed earlier and not named now, unless they were deleted from disk."""
    build.new_files = {str(p): build.new_files[str(p)] for p in files if str(p) in build.new_files}
    for source, info in build.old_files.items():
        if source in build.new_files:
            continue
        if Path(source).exists():
            build.keep_old(source, info)
        else:
            build.report.files_removed.append(source)
    _place_cards(build.new_files, build.kept)


def _write(build: _Build, chunks: list[Chunk], index_dir: Path, embedder, chunker: ChunkerConfig,
           faiss_factory: str, engine: Engine, bar) -> None:
    """Embed what is new, check the vectors, and write the generation (made live atomically)."""
    report = build.report
    old_ids, new_ids = {c.chunk_id for c in build.old_chunks}, {c.chunk_id for c in chunks}
    report.chunks_added, report.chunks_removed = len(new_ids - old_ids), len(old_ids - new_ids)
    report.chunks_total = len(chunks)
    vectors = _embed_with_cache(chunks, build.old_chunks, build.previous, embedder, engine, bar, report)
    if not np.isfinite(vectors).all():  # a broken model or file: never written, never searched
        bad = int((~np.isfinite(vectors).all(axis=1)).sum())
        raise UserError(f"the embedding model returned {bad} vector(s) with NaN or infinite values; "
                        f"the index is unchanged")
    bar.set_description("writing the index")
    faiss_factory = resolve_factory(faiss_factory, len(chunks), embedder.dimension)
    manifest = store.Manifest(
        embedding_model=embedder.name, dimension=embedder.dimension, query_prefix=embedder.query_prefix,
        passage_prefix=embedder.passage_prefix, max_tokens=embedder.max_tokens, chunker=chunker.shape(),
        faiss_factory=faiss_factory, files=build.new_files, versions=_versions(),
    )
    store.write_generation(index_dir, manifest, chunks, vectors, build_dense(vectors, faiss_factory),
                           build_bm25(chunks))


def _digest(path: Path) -> str:
    """The file's SHA-256, and its card sidecar's when there is one: a corrected card re-reads the file."""
    from rag.index.engines import sidecar_path

    digest = sha256_file(path)
    sidecar = sidecar_path(path)
    return f"{digest}+{sha256_file(sidecar)[:16]}" if sidecar.is_file() else digest


def _place_cards(files: dict[str, dict], kept: dict[str, list[Chunk]]) -> None:
    """Every card placed in its organisation's fiscal year across the collection (`resolve_quarters`),
    and each document's chunks carrying its card's line as it now reads (re-embedded if it changed)."""
    from dataclasses import replace

    from rag.ingest.cards import DocumentCard, resolve_quarters
    from rag.ingest.chunking import content_hash

    cards = resolve_quarters({s: DocumentCard.from_json(info.get("card")) for s, info in files.items()
                              if info.get("card")})
    for source, card in cards.items():
        files[source]["card"] = card.to_json()
        line = card.line() if card.identified else ""
        if any(chunk.card != line for chunk in kept.get(source, [])):
            kept[source] = [replace(c, card=line, content_hash=content_hash(replace(c, card=line).embedding_text()))
                            for c in kept[source]]


def _embed_with_cache(chunks: list[Chunk], old_chunks: list[Chunk], previous, embedder, engine, bar,
                      report: IndexReport) -> np.ndarray:
    """Reuse the vectors of texts embedded before (by content hash); embed the rest once each.
    `bar` (the build's one progress display) counts the chunks embedded."""
    old_row = {c.content_hash: row for row, c in enumerate(old_chunks)} if previous is not None else {}
    if old_row:  # a damaged vectors.npy (NaN, inf) is not a cache: those texts are embedded again
        finite = np.isfinite(previous.vectors).all(axis=1)
        old_row = {h: row for h, row in old_row.items() if finite[row]}
    todo = list(dict.fromkeys(c.content_hash for c in chunks if c.content_hash not in old_row))
    fresh = np.zeros((0, embedder.dimension), dtype=np.float32)
    if todo:
        text_of = {c.content_hash: c.embedding_text() for c in chunks}
        bar.reset(total=len(todo))
        bar.unit = "chunk"
        bar.set_description("embedding")
        fresh = engine.embed([text_of[h] for h in todo], embedder, progress=bar.update)
    report.chunks_embedded = len(todo)
    fresh_row = {h: row for row, h in enumerate(todo)}
    vectors = np.empty((len(chunks), embedder.dimension), dtype=np.float32)
    reused = [(i, old_row[c.content_hash]) for i, c in enumerate(chunks) if c.content_hash in old_row]
    embedded = [(i, fresh_row[c.content_hash]) for i, c in enumerate(chunks) if c.content_hash in fresh_row]
    for source, pairs in ((previous.vectors if reused else None, reused), (fresh, embedded)):
        if pairs:
            rows, from_rows = np.array(pairs).T
            order = np.argsort(from_rows)  # ascending reads of a memory-mapped file
            vectors[rows[order]] = source[from_rows[order]]
    return vectors
