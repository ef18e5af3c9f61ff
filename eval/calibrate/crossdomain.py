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
import random
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from eval import ROOT
from eval.datasets import DATA_DIR as DATASETS

SEED = 13
PART_ROLES = ("calibration", "test")


@dataclass
class Part:
    """One set's calibration or test part: questions (native JSONL rows) and the documents to index."""

    dataset: str
    role: str
    questions: list[dict] = field(default_factory=list)
    docs: dict[str, str] = field(default_factory=dict)  # file name -> text; empty: `doc_paths`
    doc_paths: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.dataset}-{self.role}"


def split(keys: list, shares: tuple[float, ...], seed: int = SEED) -> list[list]:
    """`keys` shuffled once with `seed` and cut into consecutive groups of the given shares.

    >>> split(list(range(8)), (0.5, 0.5))
    [[3, 0, 6, 7], [1, 5, 2, 4]]
    """
    keys = list(keys)
    random.Random(seed).shuffle(keys)
    groups, start = [], 0
    for i, share in enumerate(shares):
        end = len(keys) if i == len(shares) - 1 else start + round(share * len(keys))
        groups.append(keys[start:end])
        start = end
    return groups


def sample(rows: list, cap: int | None, seed: int = SEED) -> list:
    """At most `cap` rows, a seeded choice that keeps the original order."""
    if cap is None or len(rows) <= cap:
        return list(rows)
    chosen = set(random.Random(seed).sample(range(len(rows)), cap))
    return [row for i, row in enumerate(rows) if i in chosen]


def _squad(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def _doc(title: str, context: str) -> str:
    title = " ".join(str(title).replace("_", " ").split())
    return (f"# {title}\n\n" if title else "") + context.strip() + "\n"


def _row(qa: dict, answerable: bool, **extra) -> dict:
    answers = list(dict.fromkeys(a["text"] for a in qa.get("answers", []))) if answerable else []
    return {"id": str(qa["id"]), "question": " ".join(qa["question"].split()), "answers": answers, **extra}


def squad_cct_parts(cap: int = 120) -> list[Part]:
    article = _squad(DATASETS / "squad2_train_cct" / "train-v2.0-computational-complexity.json")[0]
    paragraphs = article["paragraphs"]
    docs = {f"p{i:03d}.md": _doc(article.get("title", ""), p["context"]) for i, p in enumerate(paragraphs)}
    parts = []
    for role, group in zip(PART_ROLES, split(list(range(len(paragraphs))), (0.5, 0.5))):
        rows = [_row(qa, not qa.get("is_impossible") and bool(qa.get("answers")), paragraph=i)
                for i in sorted(group) for qa in paragraphs[i]["qas"]]
        parts.append(Part("squad_cct", role, sample(rows, cap), docs))
    return parts


def xquad_parts(answerable_cap: int = 80, unanswerable_cap: int = 40) -> list[Part]:
    articles = _squad(DATASETS / "xquad_en" / "xquad.en.json")
    groups = split(list(range(len(articles))), (0.25, 0.25, 0.25, 0.25))
    parts = []
    for role, own, foreign in ((PART_ROLES[0], groups[0], groups[1]), (PART_ROLES[1], groups[2], groups[3])):
        docs, rows = {}, []
        for a in sorted(own):
            for j, p in enumerate(articles[a]["paragraphs"]):
                docs[f"a{a:02d}-p{j:02d}.md"] = _doc(articles[a].get("title", ""), p["context"])
                rows += [_row(qa, True, article=a) for qa in p["qas"]]
        made = [_row(qa, False, article=a, made_unanswerable=True)
                for a in sorted(foreign) for p in articles[a]["paragraphs"] for qa in p["qas"]]
        parts.append(Part("xquad", role, sample(rows, answerable_cap) + sample(made, unanswerable_cap), docs))
    return parts


def covidqa_parts(test_questions: int = 100, calibration_papers: int = 10, per_paper: int = 8) -> list[Part]:
    papers = _squad(DATASETS / "covidqa_200423" / "200423_covidQA.json")

    def doc_of(i):
        return {f"paper{i:03d}.md": _doc("", papers[i]["paragraphs"][0]["context"])}

    test_rows, test_docs, i = [], {}, 0
    while len(test_rows) < test_questions:
        test_docs.update(doc_of(i))
        test_rows += [_row(qa, True, paper=i) for qa in papers[i]["paragraphs"][0]["qas"]]
        i += 1
    rest = split(list(range(i, len(papers))), (1.0,))[0][:calibration_papers]
    calib_rows, calib_docs = [], {}
    for p in sorted(rest):
        calib_docs.update(doc_of(p))
        calib_rows += sample([_row(qa, True, paper=p) for qa in papers[p]["paragraphs"][0]["qas"]], per_paper)
    return [Part("covidqa", "calibration", calib_rows, calib_docs),
            Part("covidqa", "test", test_rows[:test_questions], test_docs)]


def sample_parts() -> list[Part]:
    sets, doc = ROOT / "eval" / "sets", ROOT / "rag" / "sample" / "japan-us-alliance.md"
    read = lambda name: [json.loads(line) for line in (sets / name).read_text(encoding="utf-8").splitlines()
                         if line.strip()]
    return [Part("sample", "calibration", read("sample-dev.jsonl"), doc_paths=[doc]),
            Part("sample", "test", read("sample.jsonl"), doc_paths=[doc])]


def agency_parts() -> list[Part]:
    """80 questions written over the 10 agency-report PDFs, 25 of them sounding answerable but not
    answered by the reports; split by report (five each), the index of a part holds its reports."""
    rows = [json.loads(line) for line in (ROOT / "eval" / "sets" / "agency-reports.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    reports = DATASETS / "us_fed_agency_reports_2022"
    parts = []
    for role in PART_ROLES:
        chosen = [r for r in rows if r["part"] == role]
        docs = sorted({r["document"] for r in chosen})
        parts.append(Part("agency", role, [{k: v for k, v in r.items() if k != "part"} for r in chosen],
                          doc_paths=[reports / d for d in docs]))
    return parts


def all_parts() -> list[Part]:
    return squad_cct_parts() + xquad_parts() + covidqa_parts() + sample_parts() + agency_parts()


def check_apart(parts: list[Part]) -> None:
    """No question id, paragraph or article in both parts of a set (the protocol's one promise)."""
    by_set: dict[str, dict[str, Part]] = {}
    for part in parts:
        by_set.setdefault(part.dataset, {})[part.role] = part
    for name, roles in by_set.items():
        calib, test = roles["calibration"], roles["test"]
        for key in ("id", "paragraph", "article", "paper", "document"):
            shared = {r[key] for r in calib.questions if key in r} & {r[key] for r in test.questions if key in r}
            if shared:
                raise AssertionError(f"{name}: {key} in both parts: {sorted(shared)[:5]}")


def part_folders(out: Path, role: str) -> list[Path]:
    """The folders of one role's parts under OUT; a clear error when there are none."""
    from rag.errors import UserError

    if not out.is_dir():
        raise UserError(f"{out} is not a folder of parts; make one with: python -m eval.calibrate.crossdomain build {out}")
    folders = sorted(p for p in out.iterdir() if p.is_dir() and p.name.endswith(f"-{role}"))
    if not folders:
        raise UserError(f"no {role} parts in {out}; make them with: python -m eval.calibrate.crossdomain build {out}")
    return folders


def write(parts: list[Part], out: Path) -> None:
    from rag.errors import UserError

    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; name a folder for the parts")
    check_apart(parts)
    for part in parts:
        folder = out / part.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "questions.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part.questions), encoding="utf-8")
        docs = folder / "docs"
        if docs.exists():
            shutil.rmtree(docs)
        docs.mkdir()
        for name, text in part.docs.items():
            (docs / name).write_text(text, encoding="utf-8")
        for path in part.doc_paths:
            shutil.copyfile(path, docs / path.name)
        answerable = sum(bool(r["answers"]) for r in part.questions)
        print(f"{part.name}: {len(part.questions)} questions ({answerable} answerable), "
              f"{len(list(docs.iterdir()))} documents", file=sys.stderr)


def run_parts(out: Path, role: str, configs: list[Path], datasets: list[str] | None) -> None:
    from eval.runner import EvalRun, run
    from rag import assemble
    from rag.index.indexer import build_index

    for folder in part_folders(out, role):
        if datasets and folder.name.rsplit("-", 1)[0] not in datasets:
            continue
        for config_path in configs or [None]:
            config = EvalRun().with_toml(config_path) if config_path else EvalRun()
            index = folder / "index"
            build_index([folder / "docs"], index, assemble.load_embedder(config.settings.embedding_model),
                        progress=False)
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
    from rag.assemble import prefer_offline, quiet_library_warnings

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
