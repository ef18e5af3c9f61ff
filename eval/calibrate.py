"""Calibrate the retrieval-evidence refusal threshold on a question set and store it.

    python -m eval.calibrate eval/sets/sample-dev.jsonl --docs rag/sample/japan-us-alliance.md

For each weight w in 0.2, 0.3, ..., 0.8 (both signals count: cosine alone does not separate
out-of-document questions, and term coverage alone would refuse paraphrases) the threshold is set just below the weakest answerable
question's evidence (no answerable question may be refused on retrieval alone); the weight that
then refuses the most unanswerable questions wins, ties going to the wider margin. Retrieval
evidence is only the first of three refusal checks (see rag/refusal.py), so it is kept safe.
`strong` is set just above the strongest unanswerable question's evidence, and `unknown_limit`
just above the largest share of unknown topic terms among answerable questions.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

MARGIN = 0.02


def choose(rows: list[dict]) -> dict:
    """rows: {"answerable", "cosine", "coverage"}; returns the chosen weight, threshold and counts."""
    best = None
    for step in range(2, 9):
        w = step / 10
        score = lambda r: w * r["cosine"] + (1 - w) * r["coverage"]
        answerable = [score(r) for r in rows if r["answerable"]]
        unanswerable = [score(r) for r in rows if not r["answerable"]]
        threshold = min(answerable) - MARGIN
        caught = sum(s < threshold for s in unanswerable)
        margin = threshold - max([s for s in unanswerable if s < threshold], default=threshold - 1)
        key = (caught, margin)
        strong = max(unanswerable, default=0.0) + MARGIN
        if best is None or key > best[0]:
            best = (key, {"weight": w, "threshold": round(threshold, 4), "strong": round(strong, 4),
                          "unanswerable_refused": caught,
                          "unanswerable": len(unanswerable), "answerable": len(answerable)})
    return best[1]


def main(argv=None) -> int:
    from rag.assemble import prefer_offline

    prefer_offline()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--docs", type=Path, nargs="+", required=True)
    parser.add_argument("-k", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "rag" / "answer" / "calibration.json")
    args = parser.parse_args(argv)

    from eval.questions import load_jsonl
    from rag.index.lexical import terms
    from rag.assemble import load_embedder
    from rag.index.indexer import build_index
    from rag.answer.refusal import coverage, question_terms, unknown_share
    from rag.index.retrieval import Retriever

    embedder = load_embedder()
    with tempfile.TemporaryDirectory() as tmp:
        build_index(args.docs, Path(tmp) / "index", embedder, progress=False)
        retriever = Retriever.open(Path(tmp) / "index", embedder)
        rows = []
        for q in load_jsonl(args.questions):
            passages = retriever.search(q.question, k=args.k)
            q_terms = question_terms(terms(q.question))
            rows.append({
                "id": q.id, "answerable": q.answerable,
                "cosine": round(max(p.scores["cosine"] for p in passages), 4),
                "coverage": round(max(coverage(q_terms, terms(" ".join(p.chunk.section) + " " + p.chunk.text))
                                      for p in passages), 4),
                "unknown": unknown_share(q_terms, retriever.index.bm25.vocab_dict),
            })
    unknown_limit = round(max(r["unknown"] for r in rows if r["answerable"]) + MARGIN, 4)
    result = {**choose(rows), "unknown_limit": unknown_limit, "question_set": str(args.questions.name), "k": args.k, "rows": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
