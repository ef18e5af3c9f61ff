"""Study: a "when" question whose copied phrase is only a date ("1978") shows it as the short answer.

The copied phrase had to hold half the terms the draft sentence adds to the question
(`short_answer.carries_draft`); a draft such as "The 1978 Guidelines were formulated with a focus
on an armed attack …" adds a dozen, so "1978" was never shown, and the README's first question
lost its bold answer. `answer_types.is_time_answer` lets a date-only phrase through for a "when"
question. This runs every "when" question of every cross-domain part (calibration and test) once
and scores the short answer with and without that rule (everything else is the same run).

    python -m eval.experiments.when_dates OUT
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path


def main(argv=None) -> int:
    from eval.calibrate.parts import all_parts, write as write_parts
    from eval.metrics import exact_match, token_f1
    from rag.answer import short_answer
    from rag.assemble import build_pipeline, load_embedder
    from rag.index.indexer import build_index
    from rag.index.lexical import terms
    from rag.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m eval.experiments.when_dates")
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        from rag.errors import UserError

        raise UserError(f"{args.out} is a file; name a folder for the parts")
    settings = Settings()
    rows = []
    parts = all_parts()
    write_parts(parts, args.out)
    for part in parts:
        questions = [q for q in part.questions if re.search(r"(?i)\bwhen\b", q["question"])]
        if not questions:
            continue
        folder = args.out / part.name
        build_index([folder / "docs"], folder / "index", load_embedder(settings.embedding_model), progress=False)
        pipeline = build_pipeline(settings, folder / "index", lambda m: None)
        for q in questions:
            answer = pipeline.ask(q["question"])
            draft = short_answer.draft_sentence(answer.raw) if answer.raw else ""
            fired = bool(answer.short_answer) and not short_answer.carries_draft(answer.short_answer, draft,
                                                                                 q["question"], terms)
            gold = q["answers"]
            old = "" if fired else answer.short_answer
            row = {"part": part.name, "question": q["question"], "gold": gold, "refused": answer.refused,
                   "short": answer.short_answer, "fired": fired}
            if gold:
                row.update(em_old=exact_match(old, gold), em_new=exact_match(answer.short_answer, gold),
                           f1_old=token_f1(old, gold), f1_new=token_f1(answer.short_answer, gold))
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
    (args.out / "when-dates.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(report(rows))
    return 0


def report(rows: list[dict]) -> str:
    lines = ["| part | when questions | answerable | rule fired | EM before → after | F1 before → after |",
             "|---|---|---|---|---|---|"]
    for part in dict.fromkeys(r["part"] for r in rows):
        mine = [r for r in rows if r["part"] == part]
        scored = [r for r in mine if "em_old" in r]
        mean = lambda key: sum(r[key] for r in scored) / len(scored) * 100 if scored else 0.0
        lines.append(f"| {part} | {len(mine)} | {len(scored)} | {sum(r['fired'] for r in mine)} | "
                     f"{mean('em_old'):.1f} → {mean('em_new'):.1f} | {mean('f1_old'):.1f} → {mean('f1_new'):.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    from eval import run_command

    sys.exit(run_command(main))
