"""The index directory: generations written whole, then switched to atomically.

Layout::

    DIR/CURRENT              name of the live generation (replaced with os.replace)
    DIR/gen-<id>/manifest.json, chunks.jsonl, chunks.offsets.npy, vectors.npy, dense.faiss, bm25/, facts.sqlite

A build writes a new generation beside the live one and only then rewrites CURRENT, so a
failed, interrupted or killed build leaves the previous index as it was.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import os
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag.errors import UserError
from rag.index.facts_store import write_facts
from rag.ingest.facts import document_facts
from rag.records import Chunk

FORMAT_VERSION = 1
CURRENT = "CURRENT"


@dataclass
class Manifest:
    embedding_model: str
    dimension: int
    query_prefix: str
    passage_prefix: str
    max_tokens: int
    chunker: dict
    faiss_factory: str
    files: dict = field(default_factory=dict)  # absolute path -> {"sha256", "size", "chunks"}
    versions: dict = field(default_factory=dict)
    created_at: float = 0.0
    chunk_count: int = 0
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, data: dict) -> "Manifest":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class ChunkTable(Sequence):
    """The chunks of a generation, read from chunks.jsonl on demand through its line offsets.

    Opening a million-chunk index reads no chunk; a search parses only the rows it returns.
    """

    def __init__(self, path: Path, offsets: np.ndarray):
        self._file = open(path, "rb")
        self._data = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if offsets[-1] else b""
        self._offsets = offsets

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        row = int(row)
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        line = self._data[int(self._offsets[row]):int(self._offsets[row + 1])]
        try:
            return Chunk.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a damaged row, found when read
            raise UserError(f"index at {self._file.name} is corrupt (chunk row {row} unreadable: "
                            f"{exc.__class__.__name__}); rebuild it with rag index") from None


@dataclass
class StoredIndex:
    """Everything of one generation, opened: vectors, FAISS index and BM25 arrays memory-mapped."""

    path: Path
    manifest: Manifest
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    dense: object  # faiss.Index
    bm25: object  # bm25s.BM25


def is_index(directory: Path) -> bool:
    return (directory / CURRENT).is_file()


def check_path_text(directory: Path) -> None:
    """FAISS takes a path as UTF-8 text: a folder name with undecodable bytes is refused in one line."""
    try:
        str(directory).encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"the index folder {str(directory).encode('utf-8', 'replace').decode()!r} has a name that "
                        f"is not valid UTF-8; choose another folder") from None


def check_writable_target(directory: Path) -> None:
    """Refuse to write into a folder that holds something other than an index."""
    check_path_text(directory)
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory} is a file, not an index folder")
    if directory.is_dir() and not os.access(directory, os.W_OK):
        raise UserError(f"cannot write the index in {directory} (read-only)")
    if directory.is_dir() and not is_index(directory):
        others = [p.name for p in directory.iterdir() if not p.name.startswith((".", "gen-"))]
        if others:
            raise UserError(f"{directory} is not a rag index (it holds other files); choose a new or empty folder")


def current_name(directory: Path) -> str:
    """The live generation's name as CURRENT holds it; "" when CURRENT is not a generation name
    (damaged: invalid UTF-8, garbage), which callers treat as a damaged index."""
    try:
        name = (directory / CURRENT).read_bytes().decode("utf-8").strip()
    except UnicodeDecodeError:
        return ""
    return name if re.fullmatch(r"gen-[\w.-]+", name) else ""


def live_generation(directory: Path) -> Path:
    check_path_text(directory)
    if not directory.exists():
        raise UserError(f"no index at {directory}; build one with: rag index PATH --index {directory}")
    if not directory.is_dir() or not is_index(directory):
        raise UserError(f"{directory} is not a rag index (no {CURRENT} file)")
    name = current_name(directory)
    generation = directory / name
    if not name or not (generation / "manifest.json").is_file():
        raise UserError(f"index at {directory} is corrupt (missing generation {name!r}); rebuild it with rag index")
    return generation


def read_manifest(directory: Path) -> Manifest:
    generation = live_generation(directory)
    try:
        return Manifest.from_json(json.loads((generation / "manifest.json").read_text(encoding="utf-8")))
    except Exception as exc:  # not JSON, or JSON of another shape
        raise UserError(f"index at {directory} is corrupt (unreadable manifest: {exc.__class__.__name__})") from exc


def named_files(directory: Path) -> list[Path]:
    """The documents a (maybe damaged) index names, best effort: what a rebuild re-reads. From the
    manifest, else from the chunk rows that still parse."""
    sources: list = []
    try:
        generation = directory / current_name(directory)
    except OSError:
        return []
    if generation == directory:  # CURRENT is damaged: the newest generation written is the best guess
        written = sorted((g for g in directory.glob("gen-*") if (g / "manifest.json").is_file()),
                         key=lambda g: g.stat().st_mtime)
        if not written:
            return []
        generation = written[-1]
    try:
        sources = list(json.loads((generation / "manifest.json").read_text(encoding="utf-8"))["files"])
    except Exception:
        try:
            with open(generation / "chunks.jsonl", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        sources.append(json.loads(line)["source"])
                    except Exception:
                        continue
        except OSError:
            pass
    return [Path(s) for s in dict.fromkeys(sources) if isinstance(s, str) and Path(s).is_file()]


def load(directory: Path) -> StoredIndex:
    import bm25s
    import faiss

    generation = live_generation(directory)
    manifest = read_manifest(directory)
    if manifest.format_version != FORMAT_VERSION:
        raise UserError(f"index at {directory} has format {manifest.format_version}; this rag reads {FORMAT_VERSION}: rebuild it")
    try:
        chunks = _open_chunks(generation)
        vectors = np.load(generation / "vectors.npy", mmap_mode="r")
        # the codes (the vectors of Flat and HNSW) are mapped, not read: a big index opens in well under a second
        dense = faiss.read_index(str(generation / "dense.faiss"), faiss.IO_FLAG_MMAP_IFC)
        bm25 = bm25s.BM25.load(str(generation / "bm25"), mmap=True, show_progress=False)
    except Exception as exc:  # any damage to the files means the same thing to the user
        raise UserError(f"index at {directory} is corrupt ({exc.__class__.__name__}); rebuild it with rag index") from exc
    if not (len(chunks) == len(vectors) == dense.ntotal == manifest.chunk_count):
        raise UserError(f"index at {directory} is corrupt (chunk, vector and manifest counts differ); rebuild it")
    return StoredIndex(generation, manifest, chunks, vectors, dense, bm25)


def _open_chunks(generation: Path) -> Sequence[Chunk]:
    offsets_path = generation / "chunks.offsets.npy"
    if not offsets_path.is_file():  # written before offsets were: read them all
        with open(generation / "chunks.jsonl", encoding="utf-8") as fh:
            return [Chunk.from_json(json.loads(line)) for line in fh if line.strip()]
    offsets = np.load(offsets_path)
    if len(offsets) < 1 or offsets[-1] != (generation / "chunks.jsonl").stat().st_size:
        raise ValueError("chunk offsets do not match chunks.jsonl")
    return ChunkTable(generation / "chunks.jsonl", offsets)


@contextlib.contextmanager
def write_lock(directory: Path):
    """One writer at a time per index folder (the app may index uploads while the CLI runs).

    The folder is made here, first of all writes: on a read-only or full disk that is one line."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fh = open(directory / ".lock", "w")
    except OSError as exc:
        raise (write_failure(exc, directory) or exc) from None
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fsync_tree(root: Path) -> None:
    for path in [p for p in root.rglob("*") if p.is_file()]:
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())


def facts_by_document(chunks: list[Chunk]) -> list:
    """Each document's facts (`ingest.facts`), its chunks taken in the order they were read."""
    by_source: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_source.setdefault(chunk.source, []).append(chunk)
    return [fact for source in by_source.values() for fact in document_facts(source)]


def write_generation(directory: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray,
                     dense, bm25) -> Path:
    """Write a complete generation, then make it live. Call under `write_lock`."""
    import faiss

    name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    staging = directory / f".{name}.tmp"
    staging.mkdir(parents=True)
    try:
        manifest.chunk_count = len(chunks)
        manifest.created_at = time.time()
        offsets = [0]
        with open(staging / "chunks.jsonl", "wb") as fh:
            for chunk in chunks:
                offsets.append(offsets[-1] + fh.write((json.dumps(chunk.to_json(), ensure_ascii=False) + "\n").encode()))
        np.save(staging / "chunks.offsets.npy", np.asarray(offsets, dtype=np.int64))
        np.save(staging / "vectors.npy", np.asarray(vectors, dtype=np.float32))
        faiss.write_index(dense, str(staging / "dense.faiss"))
        bm25.save(str(staging / "bm25"))
        write_facts(staging, facts_by_document(chunks))
        (staging / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        _fsync_tree(staging)
        os.rename(staging, directory / name)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise (write_failure(exc, directory) or exc) from None
    pointer = directory / f".{CURRENT}.tmp"
    try:
        pointer.write_text(name + "\n", encoding="utf-8")
        with open(pointer, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(pointer, directory / CURRENT)
    except BaseException as exc:  # the new generation never went live: the old one still is
        pointer.unlink(missing_ok=True)
        shutil.rmtree(directory / name, ignore_errors=True)
        raise (write_failure(exc, directory) or exc) from None
    remove_stale(directory)
    return directory / name


def write_failure(exc: BaseException, directory: Path) -> UserError | None:
    """A full or read-only disk as one line for the user; None for anything else (a real bug).

    FAISS reports its write errors as RuntimeError with the C library's message in the text, and
    numpy's array writer a short write as an OSError with no errno ("69504 requested and 65504 written")."""
    import errno
    import re

    full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or (
        isinstance(exc, (OSError, RuntimeError)) and (
            "No space left on device" in str(exc) or re.search(r"\d+ requested and \d+ written", str(exc))))
    kept = "; the previous index is unchanged" if is_index(directory) else ""
    if full:
        return UserError(f"no space left on the device of {directory} while writing the index{kept}")
    if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return UserError(f"cannot write the index in {directory} ({exc.strerror}){kept}")
    return None


def remove_stale(directory: Path) -> None:
    """Old generations and leftovers of killed builds; never the live one."""
    live = current_name(directory) if is_index(directory) else None
    for path in directory.iterdir():
        if path.name.startswith((".gen-", "gen-")) and path.name != live:
            shutil.rmtree(path, ignore_errors=True)


def copy_live(source: Path, target: Path) -> None:
    """A new index at `target` holding the live generation of `source` (a private copy to add to)."""
    generation = live_generation(source)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(generation, target / generation.name)
    (target / CURRENT).write_text(generation.name + "\n", encoding="utf-8")
