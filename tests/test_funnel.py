"""The funnel (`eval.funnel`): each stage is where a question is first lost, judged from the gold
a set gives. Records are the `rag ask --json` shape, cut to the fields the funnel reads."""
from __future__ import annotations

import json

import pytest

from eval import funnel
from eval.funnel import Gold, first_failure

GOLD = Gold(documents=frozenset({"3M_2018_10K"}), pages=frozenset({("3M_2018_10K", 60)}))


def _place(doc: str, page: int) -> dict:
    return {"source": f"/x/{doc}.pdf", "page": page, "section": ""}


def _is_1577(text: str) -> bool:
    return "1,577" in text or "1577" in text


RIGHT_PAGE, WRONG_PAGE, OTHER_DOC = _place("3M_2018_10K", 60), _place("3M_2018_10K", 12), _place("AMCR_2022_10K", 60)


@pytest.mark.parametrize("record, stage", [
    ({"retrieved": [OTHER_DOC], "citations": [OTHER_DOC], "answer": "$1,577", "refused": False}, "document scope"),
    ({"retrieved": [WRONG_PAGE], "citations": [WRONG_PAGE], "answer": "$1,577", "refused": False}, "page / table reached"),
    ({"retrieved": [RIGHT_PAGE, WRONG_PAGE], "citations": [WRONG_PAGE], "answer": "$1,488", "refused": False}, "row"),
    ({"retrieved": [RIGHT_PAGE], "citations": [RIGHT_PAGE], "short_answer": "$1,488", "answer": "…",
      "refused": False}, "column / period"),
    ({"retrieved": [RIGHT_PAGE], "citations": [RIGHT_PAGE], "answer": "12.1%", "formula": "a / b",
      "refused": False}, "arithmetic"),
    ({"retrieved": [RIGHT_PAGE], "citations": [], "answer": "I could not find", "refused": True,
      "withheld": {**RIGHT_PAGE, "short_answer": "$1,577 million", "sentence": "…"}}, "decision"),
    ({"retrieved": [RIGHT_PAGE], "citations": [RIGHT_PAGE], "answer": "Found 1,577 but could not confirm it",
      "refused": True, "candidates": {"facts": "1,577 (2018)"}}, "decision"),
    ({"retrieved": [RIGHT_PAGE], "citations": [RIGHT_PAGE], "short_answer": "$1,577 million", "answer": "…",
      "refused": False}, "right"),
    ({"retrieved": [RIGHT_PAGE], "citations": [], "answer": "I could not find", "refused": True}, "row"),
])
def test_each_stage_is_the_first_that_failed(record, stage):
    assert first_failure(record, GOLD, _is_1577) == stage


def test_a_question_without_an_answer_is_right_when_refused_and_a_decision_failure_when_answered():
    gold = Gold(answerable=False)
    assert first_failure({"refused": True}, gold, _is_1577) == "right"
    assert first_failure({"refused": False, "answer": "1492"}, gold, _is_1577) == "decision"


def test_stages_the_set_gives_no_gold_for_are_passed_over_and_explanations_wait_for_a_person():
    bare = Gold()
    assert first_failure({"retrieved": [OTHER_DOC], "answer": "$1,577", "refused": False}, bare, _is_1577) == "right"
    assert first_failure({"retrieved": [RIGHT_PAGE], "citations": [RIGHT_PAGE], "answer": "because …",
                          "refused": False}, GOLD, lambda text: None) == funnel.UNJUDGED


def test_the_table_counts_questions_first_lost_at_each_stage_and_those_that_reached_it():
    rows = funnel.table(["document scope", "row", "row", "right"])
    assert rows[2] == "| document scope | 1 | 4 |" and rows[3] == "| page / table reached | 0 | 3 |"
    assert rows[4] == "| row | 2 | 3 |" and "| (right) | 1 | |" in rows


def test_rag_eval_reports_the_funnel_per_question_and_in_its_report(tmp_path, sample_index):
    """On the sample: a question answered from its gold section is right; one whose gold section
    the documents do not hold is lost at the page stage; the report counts them."""
    from rag.cli import main

    lines = ['{"id": "a1", "question": "When were the first Guidelines formulated?", "answers": ["1978"], '
             '"sections": ["1 Background to the Formulation of the Guidelines"]}',
             '{"id": "a2", "question": "When were the first Guidelines formulated?", "answers": ["1978"], '
             '"sections": ["No Such Section In The Sample"]}']
    questions = tmp_path / "set.jsonl"
    questions.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["eval", str(questions), "--index", str(sample_index), "--out", str(out),
                 "--generator", "extractive"]) == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["funnel"] for r in rows] == ["right", "page / table reached"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["funnel"]["right"] == 1 and summary["funnel"]["page / table reached"] == 1
    report = (out / "report.md").read_text()
    assert "## Where questions were lost" in report and "| page / table reached | 1 |" in report
