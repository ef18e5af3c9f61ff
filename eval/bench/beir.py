"""nDCG@10 / recall@100 of each retrieval mode on a BEIR dataset, through the real pipeline.

    python -m eval.bench.beir eval/data/beir_scifact --work /tmp/scifact --out eval/results/scifact.json

Each BEIR document becomes a Markdown file ("# title" + text) indexed by `rag index`'s own code;
a document's rank is that of its best chunk.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from eval.datasets import load_beir, write_corpus
from eval.metrics import ndcg_at_k, recall_at_k


def ranked_documents(passages, stems: dict[str, str]) -> list[str]:
    docs: list[str] = []
    for passage in passages:
        doc = stems[Path(passage.chunk.source).stem]
        if doc not in docs:
            docs.append(doc)
    return docs


def main(argv=None) -> int:
    from eval.lab import prefer_offline

    prefer_offline()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("beir", type=Path)
    parser.add_argument("--work", type=Path, required=True, help="folder for the document files and the index")
    parser.add_argument("--split", default="test")
    parser.add_argument("--modes", default="dense,bm25,hybrid")
    parser.add_argument("--candidates", type=int, default=100, help="chunks retrieved per query")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from eval.lab import load_embedder
    from rag.library import Library
    from rag.settings import Settings
    from eval.lab import Retriever

    data = load_beir(args.beir, args.split)
    stems = write_corpus(data.corpus, args.work / "docs")
    embedder = load_embedder()
    started = time.perf_counter()
    report = Library(Settings(), args.work / "index", embedder).index([args.work / "docs"], progress=True)
    print(f"indexed in {time.perf_counter() - started:.0f} s: {report.summary()}", file=sys.stderr)
    retriever = Retriever.open(args.work / "index", embedder)

    results = {"dataset": str(args.beir), "split": args.split, "queries": len(data.queries),
               "documents": len(data.corpus), "chunks": retriever.size, "modes": {}}
    for mode in args.modes.split(","):
        ndcgs, recalls, latencies = [], [], []
        for qid, query in data.queries.items():
            t0 = time.perf_counter()
            passages = retriever.search(query, k=args.candidates, mode=mode, candidates=args.candidates)
            latencies.append(time.perf_counter() - t0)
            docs = ranked_documents(passages, stems)
            ndcgs.append(ndcg_at_k(docs, data.qrels[qid], 10))
            recalls.append(recall_at_k(docs, set(data.qrels[qid]), 100))
        results["modes"][mode] = {"ndcg@10": round(statistics.mean(ndcgs), 4),
                                  "recall@100": round(statistics.mean(recalls), 4),
                                  "latency_p50_ms": round(1000 * statistics.median(latencies), 1)}
        print(f"{mode:7s} nDCG@10 {results['modes'][mode]['ndcg@10']:.4f}  "
              f"recall@100 {results['modes'][mode]['recall@100']:.4f}", file=sys.stderr)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
