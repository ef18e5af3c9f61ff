"""The sentence reader against today's formula on the cross-domain parts, before any model writes:
which sentence each would quote from the passages the product shows, and how well each one's
score separates answerable from unanswerable questions.

    python -m eval.calibrate.reader_check OUT --reader R/reader.safetensors [--part calibration]

OUT is the folder `python -m eval.calibrate.crossdomain build` wrote. Per part: the share of
answerable questions whose quoted sentence holds the gold (`eval.judge.is_correct`), for the
formula (`sentences.best_sentences`) and for the reader, over the same shown sentences; and the
AUC of answerable against unanswerable for the formula's best score and for the reader's margin
(best sentence minus null). The calibration parts are the reader's out-of-fold check (it never
trained on them); the test parts are run once, after the rule was applied.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def auc(labels: list[int], scores: list[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 3) if len(set(labels)) == 2 else None


def check_part(folder: Path, reader, pipeline_for) -> dict:
    """One part's figures: quote holds gold (formula, reader) and the AUCs."""
    from eval.judge import is_correct

    rows = [json.loads(line) for line in (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    pipeline = pipeline_for(folder)
    held = {"formula": [], "reader": []}
    labels, formula_scores, reader_margins = [], [], []
    for row in rows:
        prepared = pipeline.prepare(row["question"])
        ranked = (pipeline.ranked_shown(prepared.fitted, prepared.fitted.question, prepared.passages, prepared.ranked)
                  if prepared.fitted.passages else [])
        if not ranked:
            continue
        titles = [prepared.fitted.passages[s.passage - 1].chunk.section_path for s in ranked]
        scores, null = reader.score(row["question"], [s.text for s in ranked], titles)
        best = int(np.argmax(scores))
        labels.append(int(bool(row["answers"])))
        formula_scores.append(ranked[0].score)
        reader_margins.append(float(scores[best] - null))
        if row["answers"]:
            held["formula"].append(is_correct(ranked[0].text, row["answers"]))
            held["reader"].append(is_correct(ranked[best].text, row["answers"]))
    share = lambda values: round(100 * sum(values) / len(values), 1) if values else None
    return {"answerable": len(held["formula"]), "unanswerable": labels.count(0),
            "quote_holds_gold_formula": share(held["formula"]), "quote_holds_gold_reader": share(held["reader"]),
            "auc_formula_score": auc(labels, formula_scores), "auc_reader_margin": auc(labels, reader_margins)}


def main(argv=None) -> int:
    from eval.calibrate.parts import part_folders
    from rag import assemble
    from rag.answer.reader import SentenceReader
    from rag.errors import UserError
    from rag.index.indexer import build_index
    from rag.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m eval.calibrate.reader_check", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--reader", type=Path, required=True)
    parser.add_argument("--part", choices=("calibration", "test"), default="calibration")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    folders = part_folders(args.out, args.part)
    if not folders:
        raise UserError(f"no {args.part} parts under {args.out}; make them with python -m eval.calibrate.crossdomain build")
    reader = SentenceReader.load(args.reader)
    settings = Settings(generator="extractive")
    embedder = assemble.load_embedder(settings.embedding_model)
    generator = assemble.load_generator(settings, embedder)

    def pipeline_for(folder: Path):
        build_index([folder / "docs"], folder / "index", embedder, progress=False)
        return assemble.answer_pipeline(assemble.open_retriever(settings, folder / "index"), generator,
                                        assemble.answer_config(settings))

    figures = {}
    for folder in folders:
        figures[folder.name] = check_part(folder, reader, pipeline_for)
        print(folder.name, json.dumps(figures[folder.name]), file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    from eval import run_command

    sys.exit(run_command(main))
