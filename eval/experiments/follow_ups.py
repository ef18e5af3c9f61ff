"""Follow-ups measured against the same questions asked in full.

    python -m eval.experiments.follow_ups OUT [--set eval/sets/follow-ups.jsonl] [--config eval/configs/default.toml]
                                  [--report eval/results/follow-ups.md]

`eval/sets/follow-ups.jsonl` holds two-turn conversations over three corpora: the sample report,
the ten agency-report PDFs and XQuAD (paragraphs with several questions). Each row has the earlier
question(s) (`previous`), the follow-up as a user types it ("When were they first formulated?") and
the same question in full (`full_question`). The follow-up is asked as the chat asks it: the
earlier turn is answered first and its short answer joins the conversation, then the follow-up is
rewritten and answered. The figure is answerable-correct of the follow-ups against the full
questions (target: at least 85% of it). Nothing here is fitted, so every row is a test row.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval import ROOT
from eval.datasets import DATA_DIR

SET = ROOT / "eval" / "sets" / "follow-ups.jsonl"
CORPORA = ("sample", "agency", "xquad")


def corpus_docs(corpus: str, folder: Path) -> None:
    """The documents a corpus's conversations are asked of, written (or copied) into `folder`."""
    import shutil

    from eval.calibrate.parts import squad_doc

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if corpus == "sample":
        shutil.copyfile(ROOT / "rag" / "sample" / "japan-us-alliance.md", folder / "japan-us-alliance.md")
    elif corpus == "agency":
        for pdf in sorted((DATA_DIR / "us_fed_agency_reports_2022").glob("*.pdf")):
            shutil.copyfile(pdf, folder / pdf.name)
    else:  # every XQuAD paragraph is a document: the conversation's paragraph competes with 239 others
        articles = json.loads((DATA_DIR / "xquad_en" / "xquad.en.json").read_text(encoding="utf-8"))["data"]
        for a, article in enumerate(articles):
            for p, paragraph in enumerate(article["paragraphs"]):
                (folder / f"a{a:02d}-p{p:02d}.md").write_text(squad_doc(article.get("title", ""), paragraph["context"]),
                                                           encoding="utf-8")


def question_files(rows: list[dict], folder: Path) -> tuple[Path, Path]:
    """The follow-ups (with their earlier turns) and the same questions in full, as two sets."""
    follow, full = folder / "follow-ups.jsonl", folder / "full.jsonl"
    keep = lambda r: {k: v for k, v in r.items() if k not in {"full_question", "corpus"}}
    follow.write_text("".join(json.dumps(keep(r), ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    full.write_text("".join(json.dumps({"id": r["id"], "question": r["full_question"], "answers": r["answers"]},
                                       ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return follow, full


def correct_share(rows: list[dict]) -> float:
    return sum(bool(r["metrics"].get("correct")) for r in rows) / len(rows) if rows else 0.0


def measure(out: Path, config_path: Path | None, question_set: Path = SET) -> dict:
    from eval.runner import EvalRun, read_done, run
    from rag.errors import UserError
    from rag.library import Library

    config = EvalRun().with_toml(config_path) if config_path else EvalRun()
    if not question_set.is_file():
        raise UserError(f"no such follow-up set: {question_set}")
    rows = []
    for number, line in enumerate(question_set.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(line) if line.strip() else None
            if row is not None and not (isinstance(row, dict) and isinstance(row.get("previous"), list)
                                        and {"id", "corpus", "question", "full_question", "answers"} <= set(row)):
                raise ValueError("needs id, corpus, previous (a list), question, full_question and answers")
        except ValueError as exc:
            raise UserError(f"{question_set}:{number}: not a follow-up conversation ({exc})") from None
        if row is not None:
            rows.append(row)
    figures = {"config": config.name, "set": str(question_set.relative_to(ROOT) if question_set.is_absolute()
                                                 and question_set.is_relative_to(ROOT) else question_set),
               "corpora": {}, "conversations": []}
    for corpus in CORPORA:
        chosen = [r for r in rows if r["corpus"] == corpus]
        if not chosen:
            continue
        folder = out / question_set.stem / corpus
        corpus_docs(corpus, folder / "docs")
        follow, full = question_files(chosen, folder)
        index = folder / "index"
        Library(config.settings, index).index([folder / "docs"])
        run(full, folder / f"full-{config.name}", config, index, None, False)
        run(follow, folder / f"follow-{config.name}", config, index, None, False)
        got_full = read_done(folder / f"full-{config.name}" / "results.jsonl")
        got_follow = read_done(folder / f"follow-{config.name}" / "results.jsonl")
        full_rows, follow_rows = [got_full[r["id"]] for r in chosen], [got_follow[r["id"]] for r in chosen]
        figures["corpora"][corpus] = {"conversations": len(chosen), "full_correct": correct_share(full_rows),
                                      "follow_up_correct": correct_share(follow_rows)}
        for r, f, u in zip(chosen, full_rows, follow_rows):
            figures["conversations"].append({
                "id": r["id"], "previous": r["previous"], "follow_up": r["question"],
                "asked": u.get("asked", r["question"]), "full_question": r["full_question"],
                "full_correct": bool(f["metrics"].get("correct")),
                "follow_up_correct": bool(u["metrics"].get("correct")),
                "follow_up_answer": u.get("short_answer") or u.get("answer", "")[:120]})
        print(f"{corpus}: full {figures['corpora'][corpus]['full_correct']:.1%}, follow-ups "
              f"{figures['corpora'][corpus]['follow_up_correct']:.1%}", file=sys.stderr)
    every = figures["conversations"]
    figures["all"] = {"conversations": len(every),
                      "full_correct": sum(c["full_correct"] for c in every) / len(every),
                      "follow_up_correct": sum(c["follow_up_correct"] for c in every) / len(every)}
    return figures


def ratio(figures: dict) -> float | None:
    return figures["follow_up_correct"] / figures["full_correct"] if figures["full_correct"] else None


def report_markdown(figures: dict) -> str:
    lines = [f"# Follow-ups against the same questions asked in full (config: {figures['config']})", "",
             f"Made by `python -m eval.experiments.follow_ups` from `{figures['set']}`. Each follow-up is asked "
             "after its earlier turn has been answered, as in the chat; correct = the gold answer is in the "
             "answer (answerable questions only).", "",
             "| corpus | conversations | full questions correct | follow-ups correct | follow-up / full |",
             "|---|---|---|---|---|"]
    for name, f in list(figures["corpora"].items()) + [("all", figures["all"])]:
        r = ratio(f)
        lines.append(f"| {name} | {f['conversations']} | {f['full_correct']:.1%} | {f['follow_up_correct']:.1%} | "
                     f"{'–' if r is None else f'{r:.0%}'} |")
    lines += ["", "Target: follow-ups at least 85% of the full questions' figure.", "",
              "## Every conversation", "",
              "| id | earlier question | follow-up | asked (the rewrite) | full | follow-up |", "|---|---|---|---|---|---|"]
    mark = lambda ok: "✓" if ok else "✗"
    cell = lambda t: str(t).replace("|", "\\|")
    for c in figures["conversations"]:
        lines.append(f"| {c['id']} | {cell(' / '.join(c['previous']))} | {cell(c['follow_up'])} | {cell(c['asked'])} | "
                     f"{mark(c['full_correct'])} | {mark(c['follow_up_correct'])} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from eval.lab import prefer_offline, quiet_library_warnings
    from rag.errors import UserError

    prefer_offline()
    quiet_library_warnings()
    parser = argparse.ArgumentParser(prog="python -m eval.experiments.follow_ups", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="work folder: documents, indexes and answer records")
    parser.add_argument("--set", type=Path, default=SET, help="the conversations (default: %(default)s)")
    parser.add_argument("--config", type=Path, help="a TOML of settings (default: the product's defaults)")
    parser.add_argument("--report", type=Path, help="write the Markdown report here (and its figures as .json)")
    args = parser.parse_args(argv)
    try:
        if args.out.exists() and not args.out.is_dir():
            raise UserError(f"{args.out} is a file; name a folder")
        figures = measure(args.out, args.config, args.set)
    except (UserError, OSError) as exc:
        print(f"python -m eval.experiments.follow_ups: error: {exc}", file=sys.stderr)
        return 2
    text = report_markdown(figures)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
        args.report.with_suffix(".json").write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n",
                                                    encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
