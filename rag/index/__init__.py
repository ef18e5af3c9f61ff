"""Index: chunks -> vectors + BM25 -> an index folder; and retrieval over it.

Takes chunks and an embedder; gives an atomically written index folder (`store`), and
`Passage` records for a query (`retrieval`): dense (FAISS, chosen in `dense`), BM25
(`lexical`) or both fused by reciprocal rank (`fusion`).
"""
