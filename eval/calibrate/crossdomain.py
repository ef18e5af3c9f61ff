"""The cross-domain protocol: calibration and test parts of several public sets, split by paragraph
or by article (never by question), so that a rule fitted on one part is measured on another.

    python -m eval.calibrate.crossdomain build OUT            # write the parts: questions.jsonl + docs/
    python -m eval.calibrate.crossdomain run OUT --part test [--config eval/configs/default.toml]
    python -m eval.calibrate.crossdomain rescore OUT --config NAME ...   # metrics again from stored answers
    python -m eval.calibrate.crossdomain table OUT [--config NAME ...]   # the targets table, as Markdown
    python -m eval.calibrate.crossdomain curve OUT --config NAME [--plot F.png]   # the refusal trade-off

Parts (seeded, so every run makes the same ones):

- squad_cct: the SQuAD 2.0 article (answerable and adversarial unanswerable questions). Its 48
  paragraphs are split in two; the index always holds the whole article, as a user's would.
- xquad: its 48 articles are split in four groups: calibration documents, calibration foreign,
  test documents, test foreign. The index of a part holds its documents; questions about its
  foreign articles are asked of it as made unanswerables (the topic is absent).
- covidqa: answerable only. Test: the first 100 questions (the issue's anchor) over their 14
  papers. Calibration: 8 questions from each of 10 other papers.
- sample: calibration is `eval/sets/sample-dev.jsonl`, test is `eval/sets/sample.jsonl`.
- agency: `eval/sets/agency-reports.jsonl`, questions written over the ten agency-report PDFs
  (25 of 80 unanswerable by the reports); five reports in each part.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.calibrate.parts import PART_ROLES, all_parts, part_folders, write

def run_parts(out: Path, role: str, configs: list[Path], datasets: list[str] | None) -> None:
    from eval.runner import EvalRun, run
    from rag.library import Library

    for folder in part_folders(out, role):
        if datasets and folder.name.rsplit("-", 1)[0] not in datasets:
            continue
        for config_path in configs or [None]:
            config = EvalRun().with_toml(config_path) if config_path else EvalRun()
            index = folder / "index"
            Library(config.settings, index).index([folder / "docs"])
            summary = run(folder / "questions.jsonl", folder / config.name, config, index, None, False)
            print(f"{folder.name} {config.name}: {summary_line(summary)}", file=sys.stderr)


def rescore(out: Path, role: str, configs: list[str]) -> None:
    """Metrics again from the stored answer records, with today's scoring (runs stay comparable)."""
    from eval.questions import load_jsonl
    from eval.scoring import score, summarise

    for folder in part_folders(out, role):
        questions = {q.id: q for q in load_jsonl(folder / "questions.jsonl")}
        for name in configs:
            results = folder / name / "results.jsonl"
            if not results.exists():
                continue
            rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
            for row in rows:
                row["metrics"] = score(row, questions[row["id"]], k=4)
            summary_path = folder / name / "summary.json"
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            summary.update(summarise(rows))
            results.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def summary_line(s: dict) -> str:
    fmt = lambda v: "-" if v is None else f"{v:.3f}"
    return (f"correct {fmt(s.get('correct'))}, false refusals {fmt(s.get('false_refusal'))}, "
            f"unanswerable refused {fmt(s.get('correct_refusal'))}, F1 {fmt(s.get('f1'))}")


TARGETS = {  # the targets on test parts: correct, false refusals, unanswerable refused, F1
    "squad_cct": (0.80, 0.10, 0.70, 0.60),
    "xquad": (0.85, 0.05, 0.80, 0.60),
    "covidqa": (0.60, 0.10, None, None),
    "sample": (0.886, None, 0.909, None),
    "agency": (None, None, None, None),
}


def table(out: Path, role: str, configs: list[str]) -> str:
    lines = ["| set | config | questions | answerable correct | false refusals | unanswerable refused | F1 | "
             "quote holds gold | answer p50 s |", "|---|---|---|---|---|---|---|---|---|"]
    pct = lambda v: "–" if v is None else f"{100 * v:.1f}%"
    for folder in part_folders(out, role):
        dataset = folder.name.rsplit("-", 1)[0]
        for name in configs:
            path = folder / name / "summary.json"
            if not path.exists():
                continue
            s = json.loads(path.read_text(encoding="utf-8"))
            correct = s.get("correct_and_cited") if dataset == "sample" else s.get("correct")
            f1 = "–" if s.get("f1") is None else f"{100 * s['f1']:.1f}"
            lines.append(f"| {dataset} | {name} | {s['answerable']}+{s['unanswerable']} | {pct(correct)} | "
                         f"{pct(s.get('false_refusal'))} ({s.get('false_refusals', 0)}) | "
                         f"{pct(s.get('correct_refusal'))} | {f1} | {pct(s.get('quote_has_gold'))} | "
                         f"{s.get('total_s_p50') or 0:.2f} |")
    if len(lines) == 2:
        from rag.errors import UserError

        raise UserError(f"no results of --config {' '.join(configs)} in the {role} parts under {out}")
    return "\n".join(lines)


def tradeoff(out: Path, role: str, config: str, thresholds=None) -> list[dict]:
    """False refusals against unanswerables refused as the answerability threshold moves, from the
    stored P(answerable) of each answer (the other refusal causes kept as they were)."""
    import numpy as np

    rows = []
    for folder in part_folders(out, role):
        results = folder / config / "results.jsonl"
        if results.exists():
            rows += [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        from rag.errors import UserError

        raise UserError(f"no results of --config {config} in the {role} parts under {out}")
    answerable = [r for r in rows if r["metrics"]["answerable"]]
    unanswerable = [r for r in rows if not r["metrics"]["answerable"]]
    other_cause = lambda r: r["refused"] and "P(answerable)" not in r.get("refusal_reason", "")
    curve = []
    for t in thresholds if thresholds is not None else np.round(np.arange(0.0, 1.0001, 0.05), 2):
        refused = lambda r: other_cause(r) or r.get("answerability", 1.0) < t
        curve.append({"threshold": float(t),
                      "false_refusals": round(sum(map(refused, answerable)) / max(1, len(answerable)), 4),
                      "unanswerable_refused": round(sum(map(refused, unanswerable)) / max(1, len(unanswerable)), 4)})
    return curve


def plot_tradeoff(curve: list[dict], shipped: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([c["false_refusals"] for c in curve], [c["unanswerable_refused"] for c in curve], marker=".")
    chosen = min(curve, key=lambda c: abs(c["threshold"] - shipped))
    ax.scatter([chosen["false_refusals"]], [chosen["unanswerable_refused"]], color="red", zorder=3,
               label=f"shipped threshold {shipped:.2f}")
    ax.set_xlabel("false refusals (answerable questions refused)")
    ax.set_ylabel("unanswerable questions refused")
    ax.set_title("Answerability trade-off, test parts pooled")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    from eval.lab import prefer_offline, quiet_library_warnings

    prefer_offline()
    quiet_library_warnings()
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate.crossdomain", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build").add_argument("out", type=Path)
    run_p = sub.add_parser("run")
    run_p.add_argument("out", type=Path)
    run_p.add_argument("--part", choices=PART_ROLES, default="test")
    run_p.add_argument("--config", type=Path, nargs="*", default=[])
    run_p.add_argument("--sets", nargs="*", help="only these sets (squad_cct, xquad, covidqa, sample, agency)")
    rescore_p = sub.add_parser("rescore")
    rescore_p.add_argument("out", type=Path)
    rescore_p.add_argument("--part", choices=PART_ROLES, default="test")
    rescore_p.add_argument("--config", nargs="+", default=["default"])
    curve_p = sub.add_parser("curve")
    curve_p.add_argument("out", type=Path)
    curve_p.add_argument("--part", choices=PART_ROLES, default="test")
    curve_p.add_argument("--config", default="default")
    curve_p.add_argument("--plot", type=Path)
    table_p = sub.add_parser("table")
    table_p.add_argument("out", type=Path)
    table_p.add_argument("--part", choices=PART_ROLES, default="test")
    table_p.add_argument("--config", nargs="+", default=["default"])
    table_p.add_argument("--json", type=Path, help="also write the summaries as JSON here")
    args = parser.parse_args(argv)
    from rag.errors import UserError

    try:
        return _command(args)
    except (UserError, OSError) as exc:
        print(f"python -m eval.calibrate.crossdomain: error: {exc}", file=sys.stderr)
        return 2


def _command(args) -> int:
    if args.command == "build":
        write(all_parts(), args.out)
    elif args.command == "run":
        run_parts(args.out, args.part, args.config, args.sets)
    elif args.command == "curve":
        from rag.answer.decision import load

        shipped = load("model").threshold
        import numpy as np

        curve = tradeoff(args.out, args.part, args.config,
                         sorted(set(np.round(np.arange(0.0, 1.0001, 0.05), 2).tolist()) | {shipped}))
        print("| threshold | false refusals | unanswerable refused |\n|---|---|---|")
        for c in curve:
            mark = " (shipped)" if c["threshold"] == shipped else ""
            print(f"| {c['threshold']:.2f}{mark} | {100 * c['false_refusals']:.1f}% | "
                  f"{100 * c['unanswerable_refused']:.1f}% |")
        if args.plot:
            plot_tradeoff(curve, shipped, args.plot)
    elif args.command == "rescore":
        rescore(args.out, args.part, args.config)
    else:
        print(table(args.out, args.part, args.config))
        if args.json:
            summaries = {f"{p.name}/{c}": json.loads((p / c / "summary.json").read_text(encoding="utf-8"))
                         for p in part_folders(args.out, args.part)
                         for c in args.config if (p / c / "summary.json").exists()}
            args.json.write_text(json.dumps(summaries, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
