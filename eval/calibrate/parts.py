"""The cross-domain protocol's parts: calibration and test parts of several public sets, split by
paragraph or by article (never by question), seeded, and written to a folder each (questions.jsonl
and docs/). What each set's parts are: `eval.calibrate.crossdomain`'s docstring.
"""
from __future__ import annotations

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


def squad_doc(title: str, context: str) -> str:
    title = " ".join(str(title).replace("_", " ").split())
    return (f"# {title}\n\n" if title else "") + context.strip() + "\n"


def squad_row(qa: dict, answerable: bool, **extra) -> dict:
    answers = list(dict.fromkeys(a["text"] for a in qa.get("answers", []))) if answerable else []
    return {"id": str(qa["id"]), "question": " ".join(qa["question"].split()), "answers": answers, **extra}


def squad_cct_parts(cap: int = 120) -> list[Part]:
    article = _squad(DATASETS / "squad2_train_cct" / "train-v2.0-computational-complexity.json")[0]
    paragraphs = article["paragraphs"]
    docs = {f"p{i:03d}.md": squad_doc(article.get("title", ""), p["context"]) for i, p in enumerate(paragraphs)}
    parts = []
    for role, group in zip(PART_ROLES, split(list(range(len(paragraphs))), (0.5, 0.5))):
        rows = [squad_row(qa, not qa.get("is_impossible") and bool(qa.get("answers")), paragraph=i)
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
                docs[f"a{a:02d}-p{j:02d}.md"] = squad_doc(articles[a].get("title", ""), p["context"])
                rows += [squad_row(qa, True, article=a) for qa in p["qas"]]
        made = [squad_row(qa, False, article=a, made_unanswerable=True)
                for a in sorted(foreign) for p in articles[a]["paragraphs"] for qa in p["qas"]]
        parts.append(Part("xquad", role, sample(rows, answerable_cap) + sample(made, unanswerable_cap), docs))
    return parts


def covidqa_parts(test_questions: int = 100, calibration_papers: int = 10, per_paper: int = 8) -> list[Part]:
    papers = _squad(DATASETS / "covidqa_200423" / "200423_covidQA.json")

    def doc_of(i):
        return {f"paper{i:03d}.md": squad_doc("", papers[i]["paragraphs"][0]["context"])}

    test_rows, test_docs, i = [], {}, 0
    while len(test_rows) < test_questions:
        test_docs.update(doc_of(i))
        test_rows += [squad_row(qa, True, paper=i) for qa in papers[i]["paragraphs"][0]["qas"]]
        i += 1
    rest = split(list(range(i, len(papers))), (1.0,))[0][:calibration_papers]
    calib_rows, calib_docs = [], {}
    for p in sorted(rest):
        calib_docs.update(doc_of(p))
        calib_rows += sample([squad_row(qa, True, paper=p) for qa in papers[p]["paragraphs"][0]["qas"]], per_paper)
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
