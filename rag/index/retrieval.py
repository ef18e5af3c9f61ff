"""Dense, BM25 and hybrid retrieval over a loaded index."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.index import store
from rag.errors import UserError
from rag.index.dense import PQ_RERANK_DEPTH, is_lossy
from rag.index.fusion import clear_lead, first_keeping, reciprocal_rank_fusion, relative_score_fusion
from rag.index.lexical import bm25_search
from rag.records import Passage
from rag.query import Query



class Retriever:
    """Holds one loaded index and the embedder that built it."""

    def __init__(self, index: store.StoredIndex, embedder, fusion: str = "rrf"):
        if index.manifest.embedding_model != embedder.name:
            raise UserError(
                f"index {index.path.parent} was built with embedding model {index.manifest.embedding_model!r}, "
                f"not {embedder.name!r}"
            )
        self.index = index
        self.embedder = embedder
        self.fusion = fusion  # how hybrid search fuses its dense and BM25 lists (fusion.py; Settings.fusion)

    @classmethod
    def open(cls, index_dir: Path, embedder, fusion: str = "rrf") -> "Retriever":
        return cls(store.load(index_dir), embedder, fusion)

    @property
    def size(self) -> int:
        return len(self.index.chunks)

    def cards(self) -> dict:
        """Each indexed file's document card (ingest.cards), in the manifest's order; read once
        (a retriever holds one loaded index for its whole life)."""
        from rag.ingest.cards import DocumentCard

        if getattr(self, "_cards", None) is None:
            self._cards = {source: DocumentCard.from_json(info.get("card"))
                           for source, info in self.index.manifest.files.items() if info.get("card")}
        return self._cards

    def facts(self, source: str) -> list:
        """A file's statement facts (`ingest.facts`), read at indexing; [] for an index built
        before facts were read, and for a document with no statement."""
        from rag.errors import UserError
        from rag.index.facts_store import read_facts

        if getattr(self, "_facts", None) is None:
            try:
                every = read_facts(self.index.path)
            except UserError:
                every = []
            self._facts = {}
            for fact in every:
                self._facts.setdefault(fact.source, []).append(fact)
        return self._facts.get(source, [])

    def rows_of(self, sources) -> np.ndarray:
        """The chunk rows of the given files: a build writes each file's chunks together, in the
        manifest's order, so each file is one run of rows."""
        wanted, rows, start = set(sources), [], 0
        for source, info in self.index.manifest.files.items():
            count = int(info.get("chunks", 0))
            if source in wanted:
                rows.append(np.arange(start, start + count))
            start += count
        return np.concatenate(rows) if rows else np.zeros(0, dtype=int)

    def _within(self, rows: np.ndarray, vector: np.ndarray, query: str, k: int, mode: str,
                depth: int) -> tuple[np.ndarray, np.ndarray, set]:
        """Search restricted to `rows`: exact cosines over their vectors, BM25 over their scores."""
        from rag.index.lexical import bm25_scores, tokenize

        dense_scores = self.index.vectors[rows] @ vector
        dense_rows = rows[np.argsort(-dense_scores, kind="stable")[:depth]]
        if mode == "dense":
            order = np.argsort(-dense_scores, kind="stable")[:k]
            return rows[order], dense_scores[order], set()
        term_ids = self.index.bm25.get_tokens_ids(tokenize([query])[0])
        lexical = bm25_scores(self.index.bm25, term_ids)[rows] if term_ids else np.zeros(len(rows))
        keep = np.flatnonzero(lexical > 0)
        bm25_rows = rows[keep[np.argsort(-lexical[keep], kind="stable")]][:depth]
        if mode == "bm25":
            return bm25_rows[:k], np.sort(lexical[keep])[::-1][:k].astype(np.float32), set()
        return self.fuse(dense_rows, dense_scores[np.argsort(-dense_scores, kind="stable")[:depth]], bm25_rows,
                         np.sort(lexical[keep])[::-1][:depth], k)

    def fuse(self, dense_rows, dense_scores, bm25_rows, bm25_scores, k: int) -> tuple[np.ndarray, np.ndarray, set]:
        """The top k of the two ranked lists fused (`fusion`), and the rows BM25 leads with
        clearly (`fusion.clear_lead`): each is kept in the k, whatever rank fusion gave it."""
        if self.fusion == "relative":
            fused = relative_score_fusion([list(zip(map(str, dense_rows), map(float, dense_scores))),
                                           list(zip(map(str, bm25_rows), map(float, bm25_scores)))])
        else:
            fused = reciprocal_rank_fusion([[str(r) for r in dense_rows], [str(r) for r in bm25_rows]])
        clear = {str(r) for r in bm25_rows[:clear_lead(bm25_scores)]}
        fused = first_keeping(fused, k, lambda pair: pair[0] in clear)
        return (np.array([int(r) for r, _ in fused], dtype=int), np.array([score for _, score in fused]),
                {int(r) for r in clear})

    def dense(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by inner product; compressed (PQ) candidates are re-scored from the exact vectors."""
        lossy = is_lossy(self.index.manifest.faiss_factory)
        depth = max(k, PQ_RERANK_DEPTH) if lossy else k
        scores, rows = self.index.dense.search(vector.reshape(1, -1).astype(np.float32), min(depth, self.size))
        keep = rows[0] >= 0
        rows, scores = rows[0][keep], scores[0][keep]
        if lossy and len(rows):
            rows = np.sort(rows)  # ascending reads of the memory-mapped vectors
            scores = self.index.vectors[rows] @ vector
            best = np.lexsort((rows, -scores))[:k]
            rows, scores = rows[best], scores[best]
        return rows, scores

    def bm25(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        return bm25_search(self.index.bm25, query, k, self.size)

    def search(self, query: "str | Query", k: int = 5, mode: str = "hybrid", candidates: int = 50,
               sources=None) -> list[Passage]:
        """Top-k passages; each carries its exact cosine to the query (refusal evidence) in `scores`.
        `sources` restricts the search to those files (a question's scope, see `scope`). A string is
        checked here; a `Query` was checked where it came in."""
        query = Query.of(query, k, mode).text
        vector = self.embedder.embed_query(query)
        clear: set = set()
        if sources:
            rows, scores, clear = self._within(self.rows_of(sources), vector, query, k, mode, max(candidates, k))
        elif mode == "dense":
            rows, scores = self.dense(vector, k)
        elif mode == "bm25":
            rows, scores = self.bm25(query, k)
        else:
            depth = max(candidates, k)
            rows, scores, clear = self.fuse(*self.dense(vector, depth), *self.bm25(query, depth), k)
        cosines = self.index.vectors[rows] @ vector if len(rows) else np.zeros(0)
        return [Passage(self.index.chunks[r], float(s), i + 1,
                        {mode: float(s), "cosine": float(c)} | ({"clear": 1.0} if r in clear else {}))
                for i, (r, s, c) in enumerate(zip(rows, scores, cosines))]
