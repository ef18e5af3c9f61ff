"""The dense index: which FAISS index fits a corpus, how it is built and tuned for search."""
from __future__ import annotations

import os

import numpy as np

from rag.errors import UserError

# Exact search reads every vector per query: 8-15 ms at 100k chunks on a 2-core machine,
# against under 1 ms for HNSW, whose cost in SciFact nDCG@10 eval/bench/answers.py measures. Below this
# size exact search is fast enough.
HNSW_FROM_CHUNKS = 50_000
HNSW_M = 32
HNSW_FACTORY = f"HNSW{HNSW_M}"
# Measured on SciFact vectors made into near-duplicates (eval/bench/scale.py's corpus), recall@10
# against exact search: at 200k, 0.933 with FAISS's default construction beam (40) and a search
# beam of 128, 0.994 with 80 and 512 (1.5x the build time); at 1M with 80, 0.931 at a search beam
# of 512, 0.968 at 1024 (2.2 ms a query), 0.989 at 2048 (4.5 ms).
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 1024
# HNSW keeps every float32 vector and its graph in memory. Past this share of the machine's RAM
# (the model, the chunks and BM25 need the rest) the index is IVF-PQ: 8-bit product codes in
# inverted lists, about 1/27 of the memory, each answer re-ranked exactly from vectors.npy (on disk).
HNSW_RAM_SHARE = 0.25
IVF_NPROBE = 64
PQ_RERANK_DEPTH = 200  # PQ candidates re-scored exactly: recall lost to the codes comes back here


def hnsw_bytes(count: int, dimension: int, m: int = HNSW_M) -> int:
    """Vectors, level-0 links (2M ids), upper-level links (about M/(M-1) ids per node), level and offset."""
    return int(count * (4 * dimension + 4 * (2 * m + m / (m - 1)) + 12))


def pq_subquantizers(dimension: int) -> int:
    """One byte per 8 dimensions, the usual trade (a divisor of the dimension, as PQ needs)."""
    return max(m for m in range(1, max(1, dimension // 8) + 1) if dimension % m == 0)


def ivf_lists(count: int) -> int:
    """About 4·sqrt(n) inverted lists (a power of two): FAISS's guideline for 1M-10M vectors."""
    return int(min(65536, max(64, 2 ** round(np.log2(4 * np.sqrt(max(count, 1)))))))


def ivfpq_bytes(count: int, dimension: int) -> int:
    """Codes and ids in the lists, plus the coarse centroids and PQ codebooks."""
    return int(count * (pq_subquantizers(dimension) + 8) + ivf_lists(count) * dimension * 4 + 256 * dimension * 4)


def physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def choose_factory(count: int, dimension: int, memory_bytes: int) -> str:
    """Exact search while it is fast, HNSW while it fits in its share of RAM, then IVF-PQ.

    >>> choose_factory(10_000, 384, 24 * 2**30), choose_factory(1_000_000, 384, 24 * 2**30)
    ('Flat', 'HNSW32')
    >>> choose_factory(10_000_000, 384, 24 * 2**30)
    'IVF16384,PQ48'
    """
    if count < HNSW_FROM_CHUNKS:
        return "Flat"
    if hnsw_bytes(count, dimension) <= HNSW_RAM_SHARE * memory_bytes:
        return HNSW_FACTORY
    return f"IVF{ivf_lists(count)},PQ{pq_subquantizers(dimension)}"


def resolve_factory(factory: str, count: int, dimension: int = 384, memory_bytes: int | None = None) -> str:
    """"auto" picks by size and this machine's memory (`choose_factory`); anything else is kept."""
    if factory != "auto":
        return factory
    return choose_factory(count, dimension, physical_memory() if memory_bytes is None else memory_bytes)


def is_lossy(factory: str) -> bool:
    """Compressed codes give approximate scores: their candidates are re-scored exactly."""
    return any(code in factory for code in ("PQ", "SQ", "LSH", "RaBitQ"))


def tune_for_search(index) -> None:
    """A wider HNSW beam than FAISS's default 16, so that the top 50 hybrid candidates are right."""
    import faiss

    index = faiss.downcast_index(index)
    hnsw = getattr(index, "hnsw", None)
    if hnsw is not None:
        hnsw.efSearch = max(hnsw.efSearch, HNSW_EF_SEARCH)
    if hasattr(index, "nprobe"):
        index.nprobe = max(index.nprobe, min(IVF_NPROBE, getattr(index, "nlist", IVF_NPROBE)))


def _training_sample(vectors: np.ndarray, factory: str) -> np.ndarray:
    """64 points per inverted list is plenty for k-means; more only slows training."""
    lists = int(factory[3:].split(",")[0]) if factory.startswith("IVF") and factory[3:].split(",")[0].isdigit() else 0
    limit = max(64 * lists, 100_000)
    if len(vectors) <= limit:
        return np.ascontiguousarray(vectors, dtype=np.float32)
    rows = np.sort(np.random.default_rng(0).choice(len(vectors), limit, replace=False))
    return np.ascontiguousarray(vectors[rows], dtype=np.float32)


def build_dense(vectors: np.ndarray, factory: str):
    """Exact inner product for small corpora; any FAISS factory string (e.g. "HNSW32", "IVF256,PQ32")."""
    import faiss

    dimension = vectors.shape[1]
    factory = resolve_factory(factory, len(vectors), dimension)
    if factory == "Flat":
        index = faiss.IndexFlatIP(dimension)
    else:
        try:
            index = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise UserError(f"invalid FAISS factory string {factory!r}") from exc
        hnsw = getattr(faiss.downcast_index(index), "hnsw", None)
        if hnsw is not None:
            hnsw.efConstruction = max(hnsw.efConstruction, HNSW_EF_CONSTRUCTION)
        if not index.is_trained:
            if len(vectors) < 40:
                raise UserError(f"FAISS index {factory!r} needs training data; the corpus has only {len(vectors)} chunks")
            try:
                index.train(_training_sample(vectors, factory))
            except RuntimeError as exc:
                raise UserError(f"cannot train FAISS index {factory!r} on {len(vectors)} chunks: use Flat or fewer lists") from exc
    index.add(vectors)
    tune_for_search(index)
    return index
