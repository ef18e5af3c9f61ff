"""What rule 4b (the collection model) changes in a stored cross-domain run, without answering again.

    python -m eval.experiments.collection_replay CD/agency-test/default/results.jsonl

Rule 4b only adds refusals, to answers the rest of the decision let through, and reads signals
the run recorded (`signals`, rounded to four places): replaying it over a run made before the
model was fitted gives what the same answers become with it. Prints the run's rows before and
after: answerable right, false refusals, unanswerable refused.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from rag.answer.decision import Signals, load_collection


def replay(rows: list[dict], kind: str = "model") -> list[bool]:
    """Whether each answer is refused once rule 4b applies."""
    collection = load_collection(kind)
    refused = []
    for row in rows:
        recorded = row.get("signals") or {}
        signals = Signals(**{k: v for k, v in recorded.items() if k in Signals.names()})
        vetoed = (collection is not None and signals.card_match is not None
                  and collection.probability(signals) < collection.threshold)
        refused.append(bool(row["refused"]) or vetoed)
    return refused


def figures(rows: list[dict], refused: list[bool]) -> str:
    answerable = [i for i, r in enumerate(rows) if r["metrics"]["answerable"]]
    unanswerable = [i for i, r in enumerate(rows) if not r["metrics"]["answerable"]]
    right = sum(1 for i in answerable if not refused[i] and rows[i]["metrics"].get("correct"))
    return (f"answerable right {right}/{len(answerable)}, false refusals {sum(refused[i] for i in answerable)}/"
            f"{len(answerable)}, unanswerable refused {sum(refused[i] for i in unanswerable)}/{len(unanswerable)}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not Path(argv[0]).is_file():
        print("usage: python -m eval.experiments.collection_replay RESULTS.jsonl (a stored run)", file=sys.stderr)
        return 2
    try:
        rows = [json.loads(line) for line in Path(argv[0]).read_text(encoding="utf-8").splitlines() if line.strip()]
        before, after = figures(rows, [bool(r["refused"]) for r in rows]), figures(rows, replay(rows))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        print(f"error: {argv[0]}: not a stored run's results ({exc.__class__.__name__}: {str(exc)[:80]})", file=sys.stderr)
        return 2
    print(f"as run:            {before}")
    print(f"with rule 4b:      {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
