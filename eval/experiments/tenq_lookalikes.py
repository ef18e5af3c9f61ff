"""The vendored 10-Q look-alike set (eval/sets/tenq-lookalikes.jsonl) asked of an index of its
folder, question by question: right, wrong or refused, and the answer's first characters.

    rag index eval/data/tenq_lookalikes/*.pdf --index /tmp/filings
    python -m eval.experiments.tenq_lookalikes /tmp/filings [--generator extractive]

Right means the answer holds the set's value (answerable questions) or refuses (the four periods
the folder does not hold). Results: eval/results/tenq-lookalikes.md.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

SET = Path(__file__).resolve().parent.parent / "sets" / "tenq-lookalikes.jsonl"


def main(argv: list[str] | None = None) -> int:
    from eval import lab
    from rag.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--generator", default=Settings.generator)
    args = parser.parse_args(argv)
    embedder = lab.load_embedder()
    generator = lab.load_generator(Settings(generator=args.generator), embedder)
    pipeline = lab.answer_pipeline(lab.Retriever.open(args.index, embedder), generator, lab.AnswerConfig())
    counts, seconds = {"right": 0, "wrong": 0, "refused": 0, "missing refused": 0}, []
    for line in SET.read_text(encoding="utf-8").splitlines():
        question = json.loads(line)
        started = time.perf_counter()
        answer = pipeline.ask(question["question"])
        seconds.append(time.perf_counter() - started)
        if question["answers"]:
            status = "refused" if answer.refused else (
                "right" if any(a in answer.text for a in question["answers"]) else "wrong")
            counts[status] += 1
        else:
            status = "missing refused" if answer.refused else "wrong"
            counts[status] += 1
        print(f"{status:15s} {question['id']:14s} {answer.text[:120]!r}", flush=True)
    seconds.sort()
    print(json.dumps({**counts, "answer_p50_s": round(seconds[len(seconds) // 2], 2)}))
    return 0


if __name__ == "__main__":
    import sys

    from rag.errors import UserError

    try:
        raise SystemExit(main())
    except UserError as exc:
        print(f"tenq_lookalikes: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
