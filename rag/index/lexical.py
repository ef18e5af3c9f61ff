"""BM25 over chunks with the bm25s package: one tokenizer for indexing and querying."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from rag.records import Chunk


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, English stopwords removed, Snowball-stemmed: Anserini's BM25 defaults."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


def build_bm25(chunks: list[Chunk]):
    """BM25 (Robertson et al., Okapi at TREC-3, 1994; Lucene variant, k1=1.2, b=0.75, as Anserini)."""
    import bm25s

    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    tokens = tokenize([f"{chunk.card}\n" + " ".join(chunk.section) + "\n" + chunk.text for chunk in chunks]) if chunks else []
    if not any(tokens):  # no indexable word anywhere ("x.x.x."): bm25s needs one term; none will match
        tokens = [[""] for _ in tokens] or [[""]]
    retriever.index(tokens, show_progress=False)
    return retriever


def bm25_scores(retriever, term_ids: list[int]) -> np.ndarray:
    """Every document's score: the query terms' postings summed in one `bincount`.

    The same sums as bm25s's `get_scores_from_ids` (its numpy path scatters with `np.add.at`,
    14 ms a query at a million chunks, against 3 ms here).
    """
    matrix = retriever.scores
    ids = np.asarray(term_ids, dtype=np.int64)
    starts, ends = matrix["indptr"][ids], matrix["indptr"][ids + 1]
    rows = np.concatenate([matrix["indices"][a:b] for a, b in zip(starts, ends)])
    weights = np.concatenate([matrix["data"][a:b] for a, b in zip(starts, ends)])
    scores = np.bincount(rows, weights=weights, minlength=matrix["num_docs"])  # float64: no 1M-row cast
    if retriever.nonoccurrence_array is not None:  # BM25L/BM25+ only; Lucene's BM25 has none
        scores += retriever.nonoccurrence_array[ids].sum()
    return scores


def bm25_search(retriever, query: str, k: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers and scores of the top `k` chunks with a non-zero score, ties by row.

    Scores come from bm25s; the top-k is taken over the non-zero scores only, because
    bm25s's own selection partitions every row and is slow when most scores tie at zero
    (17 ms at 100k chunks, against under 1 ms here).
    """
    k = min(k, size)
    term_ids = retriever.get_tokens_ids(tokenize([query])[0]) if k > 0 else []
    if not term_ids:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=np.float32)
    scores = bm25_scores(retriever, term_ids)
    rows = np.flatnonzero(scores > 0)
    if len(rows) > k:  # keep the k best; at the cut, ties go to the lowest rows
        threshold = -np.partition(-scores[rows], k - 1)[k - 1]
        above, tied = rows[scores[rows] > threshold], rows[scores[rows] == threshold]
        rows = np.concatenate([above, tied[: k - len(above)]])
    rows = rows[np.lexsort((rows, -scores[rows]))]
    return rows, scores[rows].astype(np.float32)


def terms(text: str) -> set[str]:
    """The BM25 index's own terms of a text: what lexical evidence and support compare.

    >>> sorted(terms("The Guidelines were formulated in 1978."))
    ['1978', 'formul', 'guidelin', 'were']
    """
    return set(tokenize([text])[0])
