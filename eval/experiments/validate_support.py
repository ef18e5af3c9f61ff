"""Agreement of the support checker (rag/answer/grounding.py) with hand-labelled answer sentences.

    python -m eval.experiments.validate_support [eval/sets/support-labels.jsonl] [--out eval/results/support-check.json]

Each labelled sentence is checked against the passages retrieved for its question (k = 4,
hybrid), exactly as the pipeline checks a model's answer.
"""
from __future__ import annotations

from eval import EVAL_DIR

import argparse
import json
import sys
import tempfile
from pathlib import Path


def main(argv=None) -> int:
    from eval.lab import prefer_offline

    prefer_offline()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path, nargs="?", default=EVAL_DIR / "sets" / "support-labels.jsonl")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from eval.lab import terms
    from eval.lab import load_embedder
    from rag.answer.grounding import SUPPORT_THRESHOLD, ground_answer
    from rag.library import Library
    from eval.lab import split_sentences
    from eval.lab import sample_document
    from eval.lab import open_retriever
    from rag.settings import Settings

    embedder = load_embedder()
    rows = [json.loads(line) for line in args.labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        Library(Settings(), Path(tmp) / "index", embedder).index([sample_document()])
        retriever = open_retriever(Settings(), Path(tmp) / "index")
        results = []
        for row in rows:
            passages = retriever.search(row["question"], k=4)
            grounded = ground_answer(row["sentence"], row["question"], [split_sentences(p.chunk.text) for p in passages],
                                     terms, embedder.embed_passages)
            predicted = any(s.supported for s in grounded)
            results.append({**row, "predicted": predicted, "support": max((s.support for s in grounded), default=0)})
    agree = sum(r["predicted"] == r["supported"] for r in results)
    flagged = [r for r in results if not r["predicted"]]
    truly_unsupported = [r for r in results if not r["supported"]]
    summary = {
        "sentences": len(results), "threshold": SUPPORT_THRESHOLD, "agreement": round(agree / len(results), 4),
        "unsupported_precision": round(sum(not r["supported"] for r in flagged) / len(flagged), 4) if flagged else None,
        "unsupported_recall": round(sum(not r["predicted"] for r in truly_unsupported) / len(truly_unsupported), 4)
        if truly_unsupported else None,
        "by_origin": {o: round(sum(r["predicted"] == r["supported"] for r in results if r["origin"] == o)
                               / sum(r["origin"] == o for r in results), 4) for o in {r["origin"] for r in results}},
        "disagreements": [{k: r[k] for k in ("sentence", "supported", "support")} for r in results
                          if r["predicted"] != r["supported"]],
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
