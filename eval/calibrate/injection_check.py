"""Precision and recall of the detector for passages that address the assistant, on a written set
of injection variants and ordinary sentences that mention instructions (eval/sets/injection-variants.jsonl).

    python -m eval.calibrate.injection_check [--misses]

The set is split in two parts (alternate lines of each kind); the patterns were revised looking
at the dev part's misses only, so the test part's figures are the ones to quote.
"""
from __future__ import annotations

from eval import EVAL_DIR

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

SET = EVAL_DIR / "sets" / "injection-variants.jsonl"


@dataclass(frozen=True)
class DetectorScore:
    part: str
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_positives, 1)

    @property
    def recall(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_negatives, 1)


def load_variants(path: Path = SET) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(rows: list[dict], part: str, detect) -> DetectorScore:
    chosen = [r for r in rows if part == "all" or r["part"] == part]
    flagged = [(r["injection"], detect(r["text"]) is not None) for r in chosen]
    return DetectorScore(part, sum(t and f for t, f in flagged), sum(f and not t for t, f in flagged),
                         sum(t and not f for t, f in flagged))


def main(argv=None) -> int:
    from rag.answer.injection import addressed_to_assistant

    parser = argparse.ArgumentParser(prog="python -m eval.calibrate.injection_check", description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the dev part's misses and false alarms")
    args = parser.parse_args(argv)
    rows = load_variants()
    print("| part | injections | ordinary | precision | recall |\n|---|---|---|---|---|")
    for part in ("dev", "test", "all"):
        s = score(rows, part, addressed_to_assistant)
        chosen = [r for r in rows if part == "all" or r["part"] == part]
        print(f"| {part} | {sum(r['injection'] for r in chosen)} | {sum(not r['injection'] for r in chosen)} "
              f"| {s.precision:.3f} | {s.recall:.3f} |")
    if args.misses:
        for r in rows:
            if r["part"] == "dev" and (addressed_to_assistant(r["text"]) is not None) != r["injection"]:
                print(("missed" if r["injection"] else "false alarm"), r["id"], r["text"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
