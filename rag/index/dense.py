"""The dense index: which FAISS index fits a corpus, how it is built and tuned for search."""
from __future__ import annotations

import numpy as np

from rag.errors import UserError

# Exact search reads every vector per query: 8-15 ms at 100k chunks on a 2-core machine,
# against under 1 ms for HNSW, whose cost in SciFact nDCG@10 eval/bench.py measures. Below this
# size exact search is fast enough.
HNSW_FROM_CHUNKS = 50_000
HNSW_FACTORY = "HNSW32"
HNSW_EF_SEARCH = 128


def resolve_factory(factory: str, count: int) -> str:
    """"auto" is exact search for small corpora and HNSW for large ones."""
    if factory != "auto":
        return factory
    return HNSW_FACTORY if count >= HNSW_FROM_CHUNKS else "Flat"


def tune_for_search(index) -> None:
    """A wider HNSW beam than FAISS's default 16, so that the top 50 hybrid candidates are right."""
    import faiss

    hnsw = getattr(faiss.downcast_index(index), "hnsw", None)
    if hnsw is not None:
        hnsw.efSearch = max(hnsw.efSearch, HNSW_EF_SEARCH)


def build_dense(vectors: np.ndarray, factory: str):
    """Exact inner product by default; any FAISS factory string (e.g. "HNSW32", "IVF256,PQ32")."""
    import faiss

    dimension = vectors.shape[1]
    factory = resolve_factory(factory, len(vectors))
    if factory == "Flat":
        index = faiss.IndexFlatIP(dimension)
    else:
        try:
            index = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise UserError(f"invalid FAISS factory string {factory!r}") from exc
        if not index.is_trained:
            if len(vectors) < 40:
                raise UserError(f"FAISS index {factory!r} needs training data; the corpus has only {len(vectors)} chunks")
            try:
                index.train(vectors)
            except RuntimeError as exc:
                raise UserError(f"cannot train FAISS index {factory!r} on {len(vectors)} chunks: use Flat or fewer lists") from exc
    index.add(vectors)
    tune_for_search(index)
    return index
