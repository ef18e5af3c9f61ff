"""FinanceBench answering and its report (the protocol's steps 2 and 3; see `eval.experiments.financebench`).

results.jsonl keeps, per question: the answer shown, its short answer, refused or not, the
documents searched and cited, whether the question's filing was among the retrieved passages,
the timings, and the grade (`eval.experiments.finance_grading`); hand grades, when given, live in
OUT/<part>/hand_grades.json ({"financebench_id": "correct" | "incorrect"}).
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from eval.experiments.finance_grading import grade

KINDS = ("metrics-generated", "domain-relevant", "novel-generated")


# FinanceBench's published figures (correct, incorrect, refused %), its PROVENANCE's anchors
ANCHORS = [("GPT-4-Turbo, shared vector store over all filings", 19, 13, 67),
           ("GPT-4, shared vector store", 17, 9, 75),
           ("Llama 2, shared vector store", 19, 69, 11),
           ("GPT-4-Turbo, the right filing given (one store per filing)", 50, 11, 39),
           ("GPT-4-Turbo, the gold evidence page given (oracle)", 85, 15, 0)]


def is_lookup(row: dict) -> bool:
    """A single-cell lookup: a metrics question its set marks as information extraction (no arithmetic)."""
    return row.get("question_type") == "metrics-generated" and row.get("question_reasoning") == "Information extraction"


def answer_part(questions: list[dict], out: Path, part: str, generator: str, cell_threshold: float | None = None,
                name: str = "", decide: bool = True) -> Path:
    """Every question answered into OUT/<part>-<generator>[-name]/results.jsonl (resumes).
    `cell_threshold` replaces the shipped one (0 on the calibration part: every cell answer and
    its score is kept, to fit the threshold on); `decide` False shows every drafted answer, to
    grade it and fit the collection model on (`eval.calibrate.fit_collection`)."""
    from dataclasses import replace

    from eval.runner import read_done
    from eval import lab
    from eval.lab import terms
    from rag.settings import Settings

    folder = out / f"{part}-{generator}{'-' + name if name else ''}"
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / "results.jsonl"
    done = read_done(results)
    todo = [q for q in questions if q["financebench_id"] not in done]
    if not todo:
        return results
    pipeline = lab.build_pipeline(Settings(generator=generator), out / "index", decide=decide)
    if cell_threshold is not None:
        pipeline = type(pipeline)(pipeline.retriever, pipeline.generator,
                                  replace(pipeline.decision, cell_threshold=cell_threshold), pipeline.config)
    with open(results, "a", encoding="utf-8") as fh:
        for number, q in enumerate(todo, start=1):
            answer = pipeline.ask(q["question"])
            doc = q["doc_name"]
            row = {
                "id": q["financebench_id"], "company": q["company"], "doc_name": doc,
                "question_type": q["question_type"], "question_reasoning": q.get("question_reasoning"),
                "question": q["question"], "gold": q["answer"], "answer": answer.text,
                "short_answer": answer.short_answer, "refused": answer.refused,
                "refusal_reason": answer.refusal_reason, "scope": answer.scope, "formula": answer.formula,
                "retrieved_docs": [Path(p.chunk.source).stem for p in answer.retrieved],
                "cited_docs": [Path(c.passage.chunk.source).stem for c in answer.cited],
                "right_filing_retrieved": any(Path(p.chunk.source).stem == doc for p in answer.retrieved),
                "timings": {k: round(v, 3) for k, v in answer.timings.items()},
                "signals": answer.signals,
                "candidates": answer.candidates, "withheld": answer.withheld,
                "retrieved": [_place(p.chunk) for p in answer.retrieved],
                "citations": [_place(c.passage.chunk) for c in answer.cited],
                "gold_pages": [[e["doc_name"], e["evidence_page_num"] + 1] for e in q.get("evidence", [])],
            }
            row["grade"] = grade(answer.text, answer.short_answer, answer.refused, q["answer"], terms)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            print(f"[{number}/{len(todo)}] {row['grade']:9s} {answer.timings.get('total_s', 0):5.1f}s "
                  f"{q['question'][:70]}", file=sys.stderr)
    return results


def _place(chunk) -> dict:
    return {"source": chunk.source, "page": chunk.page, "section": chunk.section_path}


def funnel_stage(row: dict, terms) -> str:
    """The question's first failed stage (`eval.funnel`), FinanceBench's gold page standing for the row's place."""
    from eval import funnel

    gold = funnel.Gold(documents=frozenset({row["doc_name"]}),
                       pages=frozenset((doc, page) for doc, page in row.get("gold_pages", [])))
    verdict = {"correct": True, "incorrect": False, "refused": False, "hand": None}
    return funnel.first_failure(row, gold, lambda text: verdict[grade(text, text, False, row["gold"], terms)])


def _share(rows: list[dict], grade_name: str) -> str:
    return f"{100 * sum(r['grade'] == grade_name for r in rows) / len(rows):.0f}%" if rows else "–"


def graded(rows: list[dict], hand: dict[str, str]) -> list[dict]:
    """Rows with hand grades applied where the automatic grading could not decide."""
    return [{**r, "grade": hand.get(r["id"], r["grade"]) if r["grade"] == "hand" else r["grade"],
             "graded_by": "hand" if r["grade"] == "hand" and r["id"] in hand else
             ("ungraded" if r["grade"] == "hand" else "automatic")} for r in rows]


def write_report(out: Path, part: str, generator: str, name: str = "") -> str:
    """OUT/<part>-<generator>[-name]/report.md: rows by kind beside the published anchors; returned too."""

    folder = out / f"{part}-{generator}{'-' + name if name else ''}"
    if not (folder / "results.jsonl").is_file():
        return f"no questions of the {part} part have their filing in the folder"
    from eval.lab import terms

    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines() if line.strip()]
    # graded again from the stored answers: the rules in eval/experiments/finance_grading.py are the ones in force
    rows = [{**r, "grade": grade(r["answer"], r["short_answer"], r["refused"], r["gold"], terms)} for r in rows]
    hand_file = folder / "hand_grades.json"
    rows = graded(rows, json.loads(hand_file.read_text()) if hand_file.is_file() else {})
    groups = [("all", rows)] + [(kind, [r for r in rows if r["question_type"] == kind]) for kind in KINDS]
    groups.append(("single-cell lookups (metrics, information extraction)", [r for r in rows if is_lookup(r)]))
    lines = [f"## FinanceBench, {part} part ({len(rows)} questions), generator {generator}", "",
             "| questions | n | correct | incorrect | refused | graded by hand | ungraded |", "|---|---|---|---|---|---|---|"]
    for name, group in groups:
        lines.append(f"| {name} | {len(group)} | {_share(group, 'correct')} | {_share(group, 'incorrect')} | "
                     f"{_share(group, 'refused')} | {sum(r['graded_by'] == 'hand' for r in group)} | "
                     f"{sum(r['graded_by'] == 'ungraded' for r in group)} |")
    lines += ["", "Published on all 150 questions (human-graded), for comparison:", "",
              "| setup | correct | incorrect | refused |", "|---|---|---|---|"]
    lines += [f"| {name} | {c}% | {i}% | {r}% |" for name, c, i, r in ANCHORS]
    right = [r["right_filing_retrieved"] for r in rows]
    totals = [r["timings"].get("total_s", 0.0) for r in rows]
    lines += ["", f"- The question's filing among the retrieved passages: {sum(right)}/{len(right)} "
                  f"({100 * sum(right) / max(len(right), 1):.0f}%).",
              f"- Answered from a table cell (no language model): {sum(bool(r['signals'].get('cell')) for r in rows)}; "
              f"computed by a formula from cells: {sum(bool(r['formula']) for r in rows)}.",
              f"- Answer time p50 {statistics.median(totals):.2f} s, p90 "
              f"{sorted(totals)[int(0.9 * (len(totals) - 1))]:.2f} s." if totals else "- no answers"]
    if all("gold_pages" in r for r in rows):
        from eval import funnel

        stages = [funnel_stage(r, terms) for r in rows]
        lines += ["", "Where each question was lost (`eval.funnel`: the first stage that failed, the gold page "
                      "standing for the row's place):", ""] + funnel.table(stages)
    text = "\n".join(lines) + "\n"
    (folder / "report.md").write_text(text)
    return text


def fit_cell_threshold(rows: list[dict], cost_of_wrong: float = 2.0) -> tuple[float, list[tuple[float, int, int]]]:
    """The row score from which a cell answers, fitted on calibration rows answered with threshold 0:
    the lowest score t that maximises correct - cost_of_wrong * incorrect among cell answers
    scoring t or more (a wrong number costs more than a question left to the model). Also the
    curve: (t, correct, incorrect) at each candidate.

    >>> rows = [{"signals": {"cell": s}, "grade": g} for s, g in [(0.9, "correct"), (0.7, "correct"),
    ...         (0.6, "incorrect"), (0.5, "incorrect"), (0.4, "correct")]]
    >>> fit_cell_threshold(rows)[0]
    0.7
    """
    cells = sorted(((r["signals"]["cell"], r["grade"]) for r in rows if r.get("signals", {}).get("cell")),
                   reverse=True)
    curve, best, best_gain = [], 1.0, 0.0
    correct = wrong = 0
    for score, grade_name in cells:
        correct += grade_name == "correct"
        wrong += grade_name == "incorrect"
        curve.append((score, correct, wrong))
        gain = correct - cost_of_wrong * wrong
        if gain > best_gain:
            best, best_gain = score, gain
    return round(best, 3), curve
