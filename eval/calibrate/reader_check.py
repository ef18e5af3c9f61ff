"""The span reader against today's pipeline on the cross-domain parts, before anything ships: the
three figures of the declared rule (`rag/answer/reader.py`), per part.

    python -m eval.calibrate.reader_check OUT --reader R/reader.safetensors [--today collect] [--part calibration]

OUT is the folder `python -m eval.calibrate.crossdomain build` wrote, with today's run of the
part (`--today`, default `collect`: every question answered, its signals kept) beside each part.
Per answerable question, scored as `eval.scoring` scores a run:

- today: the run's quote holds the gold; F1 of its short answer (else its answer);
- reader: the sentence of highest reader margin among the formula's best `--candidates` of the
  passages shown holds the gold; F1 of its span when the margin is positive (else the sentence);
- kept: the formula's best sentence unless the reader's margin on it is negative (then the
  reader's choice), with the reader's span as above;
- span on today's quote: the reader's span of the sentence today's run quoted (the sentence
  choice unchanged, the short answer the reader's).

And the decision's AUC (answerable against unanswerable), leave one set out as
`eval.calibrate.fit_answerability` measures it, with today's signals and with the reader's best
margin added. The calibration parts are out of fold for the reader (it never trained on them);
the test parts are run once, after the rule was applied.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def read_question(reader, question: str, shown: list, candidates: int) -> dict:
    """The reader over the formula's best `candidates` sentences: its chosen sentence, span, margin."""
    top = shown[:candidates]
    readings = reader.read(question, [s.text for s in top])
    best = int(np.argmax([r.margin for r in readings]))
    kept = 0 if readings[0].margin > 0 else best  # the formula's sentence unless the reader finds no answer in it
    return {"sentence": top[best].text, "span": readings[best].span, "margin": readings[best].margin,
            "formula_sentence": top[0].text, "kept_sentence": top[kept].text, "kept_span": readings[kept].span,
            "kept_margin": readings[kept].margin}


def check_part(folder: Path, today: str, reader, pipeline, candidates: int) -> tuple[dict, list[dict]]:
    """One part's figures, and its rows of today's signals with the reader's margin added."""
    from eval.judge import is_correct
    from eval.metrics import token_f1
    from eval.scoring import strip_markers
    from eval.lab import ranked_shown

    questions = {r["id"]: r for r in map(json.loads, (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines())}
    records = [json.loads(line) for line in (folder / today / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    figures = {k: [] for k in ("today_quote", "reader_quote", "kept_quote", "formula_quote", "today_f1", "reader_f1",
                               "kept_f1", "span_on_today_f1", "today_correct", "reader_correct", "kept_correct")}
    rows = []
    for record in records:
        gold = questions[record["id"]]["answers"]
        prepared = pipeline.prepare(record["question"])
        shown = (ranked_shown(prepared.fitted, prepared.fitted.question, prepared.ranked, pipeline.embed)
                 if prepared.fitted.passages else [])
        read = read_question(reader, record["question"], shown, candidates) if shown else None
        if record.get("signals"):
            rows.append({"set": folder.name.rsplit("-", 1)[0], "answerable": bool(gold),
                         "signals": {**record["signals"], "reader_margin": read["margin"] if read else -20.0}})
        if not gold:
            continue
        said = "" if record["refused"] else strip_markers(record.get("short_answer") or record["answer"])
        quoted = " ".join(s["text"] for s in record.get("sentences", []))
        figures["today_quote"].append(is_correct(quoted, gold))
        figures["today_f1"].append(token_f1(said, gold))
        figures["today_correct"].append(is_correct(said, gold))
        reader_said = (read["span"] if read["margin"] > 0 else read["sentence"]) if read else ""
        figures["reader_quote"].append(bool(read) and is_correct(read["sentence"], gold))
        figures["formula_quote"].append(bool(read) and is_correct(read["formula_sentence"], gold))
        figures["reader_f1"].append(token_f1(reader_said, gold))
        figures["reader_correct"].append(is_correct(reader_said, gold))
        kept_said = (read["kept_span"] if read["kept_margin"] > 0 else read["kept_sentence"]) if read else ""
        figures["kept_quote"].append(bool(read) and is_correct(read["kept_sentence"], gold))
        figures["kept_f1"].append(token_f1(kept_said, gold))
        figures["kept_correct"].append(is_correct(kept_said, gold))
        on_today = reader.read(record["question"], [record["sentences"][0]["text"]])[0] if record.get("sentences") else None
        figures["span_on_today_f1"].append(token_f1(on_today.span if on_today and on_today.margin > 0 else said, gold))
    share = lambda values: round(100 * sum(values) / len(values), 1) if values else None
    return {"answerable": len(figures["today_quote"]), **{k: share(v) for k, v in figures.items()}}, rows


def decision_auc(rows: list[dict], features: tuple[str, ...]) -> dict:
    """AUC per set, leave one set out (fit on the others), as fit_answerability reports it, and their mean."""
    from eval.calibrate.fit_answerability import leave_one_set_out_auc, matrix

    out = leave_one_set_out_auc(*matrix(rows, features))
    out["mean"] = round(float(np.mean([v for v in out.values() if v is not None])), 3) if out else None
    return out


def main(argv=None) -> int:
    from eval.calibrate.fit_answerability import WITH_MODEL
    from eval.calibrate.parts import part_folders
    from eval import lab
    from rag.answer.reader import SentenceReader
    from rag.errors import UserError
    from rag.library import Library
    from rag.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m eval.calibrate.reader_check", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--reader", type=Path, required=True)
    parser.add_argument("--today", default="collect", help="the run of each part the reader is compared with")
    parser.add_argument("--part", choices=("calibration", "test"), default="calibration")
    parser.add_argument("--candidates", type=int, default=6, help="the formula's best sentences the reader reads")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    if args.candidates < 1:
        parser.error("--candidates must be at least 1")
    folders = part_folders(args.out, args.part)
    missing = [f.name for f in folders if not (f / args.today / "results.jsonl").is_file()]
    if missing:
        raise UserError(f"no {args.today} run of {', '.join(missing)}; run python -m eval.calibrate.crossdomain run "
                        f"{args.out} --part {args.part} --config eval/configs/{args.today}.toml first")
    reader = SentenceReader.load(args.reader)
    settings = Settings()
    embedder = lab.load_embedder(settings.embedding_model)
    generator = lab.load_generator(settings, embedder)
    figures, rows = {}, []
    for folder in folders:
        if not (folder / "index").is_dir():
            Library(settings, folder / "index", embedder).index([folder / "docs"])
        pipeline = lab.answer_pipeline(lab.open_retriever(settings, folder / "index"), generator,
                                            lab.answer_config(settings))
        figures[folder.name], part_rows = check_part(folder, args.today, reader, pipeline, args.candidates)
        rows += part_rows
        print(folder.name, json.dumps(figures[folder.name]), file=sys.stderr, flush=True)
    names = [n for n in figures if figures[n]["answerable"]]
    figures["mean"] = {k: round(float(np.mean([figures[n][k] for n in names])), 1)
                       for k in figures[names[0]] if k != "answerable"} if names else {}
    figures["decision_auc"] = {"today": decision_auc(rows, WITH_MODEL),
                               "with_reader": decision_auc(rows, WITH_MODEL + ("reader_margin",))}
    print(json.dumps({"mean": figures["mean"], "decision_auc": figures["decision_auc"]}, indent=1), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    from eval import run_command

    sys.exit(run_command(main))
