"""Rule 4c replayed over stored FinanceBench answers: a shown text-route answer whose first cited
document's card is a financial filing becomes a refusal; nothing else moves.

    python -m eval.experiments.filing_text_replay RUN_FOLDER INDEX

RUN_FOLDER is a `python -m eval.experiments.financebench` run (OUT/<part>-<generator>), its hand
grades read from `eval/results/financebench-hand-grades.json` and the folder's hand_grades.json.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from eval import EVAL_DIR


def replay(folder: Path, index: Path) -> dict[str, Counter]:
    from eval.lab import FILING_KINDS
    from eval.lab import store
    from eval.lab import DocumentCard

    manifest = json.loads((store.live_generation(index) / "manifest.json").read_text())
    cards = {s: DocumentCard.from_json(i["card"]) for s, i in manifest["files"].items() if i.get("card")}
    hand = json.loads((EVAL_DIR / "results" / "financebench-hand-grades.json").read_text())
    if (folder / "hand_grades.json").is_file():
        hand.update(json.loads((folder / "hand_grades.json").read_text()))
    out = {"before": Counter(), "text answers in filings": Counter(), "after": Counter()}
    for line in (folder / "results.jsonl").read_text().splitlines():
        row = json.loads(line)
        grade = hand.get(row["id"], "ungraded") if row["grade"] == "hand" else row["grade"]
        out["before"][grade] += 1
        cited = [c["source"] for c in row.get("citations", [])]
        first = cards.get(cited[0]) if cited else None
        text = not (row["refused"] or row.get("formula") or row["signals"].get("cell") or row["signals"].get("route"))
        if text and first is not None and first.kind in FILING_KINDS:
            out["text answers in filings"][grade] += 1
            out["after"]["refused"] += 1
        else:
            out["after"][grade] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2 or not (Path(args[0]) / "results.jsonl").is_file():
        print("usage: python -m eval.experiments.filing_text_replay RUN_FOLDER INDEX (RUN_FOLDER holds results.jsonl)",
              file=sys.stderr)
        return 2
    for name, counts in replay(Path(args[0]), Path(args[1])).items():
        print(name, dict(counts))
    return 0


if __name__ == "__main__":
    from eval import run_command

    sys.exit(run_command(main))
