"""A number is shown only when two routes give it: the cell read from the cited row, and the
filing's statement facts for the question's line item and the filing's own period
(rag/answer/confirm.py). On the vendored 10-Qs, with the extractive answerer (no model)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

QUESTIONS = [json.loads(line) for line in
             (Path(__file__).resolve().parent.parent / "eval/sets/tenq-lookalikes.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def answers(tenq_pipeline):
    return {q["id"]: tenq_pipeline.ask(q["question"]) for q in QUESTIONS if q["answers"]}


def test_no_number_of_the_set_is_shown_wrong(answers):
    by_id = {q["id"]: q for q in QUESTIONS}
    wrong = [i for i, a in answers.items() if not a.refused and not any(x in a.text for x in by_id[i]["answers"])]
    right = [i for i, a in answers.items() if not a.refused and i not in wrong]
    assert wrong == [] and len(right) >= 12, (wrong, right)


def test_a_shown_number_carries_both_readings(answers):
    """Every number shown names its two routes: the cell (or the text answer, or the fact's printed
    row where the cell reader reads none) and the facts."""
    shown = [a for a in answers.values() if not a.refused]
    assert shown and all(set(a.candidates) in ({"cell", "facts"}, {"text", "facts"}, {"row", "facts"}) for a in shown), \
        [(a.question, a.candidates) for a in shown]


def test_a_cell_the_statements_contradict_is_refused_with_both_readings(tenq_pipeline, monkeypatch):
    """The cell reader made to read the prior year's column (the mistake it made for questions
    naming a period by the calendar): the statements' value for the filing's own quarter differs,
    and the number is refused, naming both, with no other route guessing it."""
    from rag.answer import collection

    monkeypatch.setattr(collection, "header_years", lambda card, years, ask=None: tuple(y - 2 for y in years))  # FY2024 -> 2022
    answer = tenq_pipeline.ask("What was Best Buy's revenue in the second quarter of fiscal 2024 (in USD millions)?")
    assert answer.refused and "10,329" in answer.text and "9,583" in answer.text, answer.text
    assert "disagree" in answer.refusal_reason and set(answer.candidates) == {"cell", "facts"}


def test_a_row_no_standard_item_names_is_confirmed_by_its_own_row_in_the_facts(tenq_pipeline):
    """A balance-sheet row outside the standard list ("Unredeemed gift card liabilities"): the
    cell reader's column and the facts' column for the filing's own period must agree; and a
    caption that holds a standard one ("deferred revenue") is not taken for it (revenue)."""
    gift = tenq_pipeline.ask("How much were Best Buy's unredeemed gift card liabilities at July 29, 2023 (in USD millions)?")
    assert not gift.refused and gift.short_answer.startswith("250"), gift.text
    assert "Unredeemed gift card liabilities, July 29, 2023" in gift.candidates["facts"]
    deferred = tenq_pipeline.ask("What was Best Buy's deferred revenue at the end of Q2 FY2024?")
    assert not deferred.refused and deferred.short_answer.startswith("996") and "9,583" not in deferred.text


def test_a_quantity_in_a_filing_that_no_second_route_gives_is_refused(tenq_pipeline):
    """Asked for a number the statements hold no line item for, the quote offered states a row of
    numbers and picks none: only one route answers, so it is refused, saying what was found."""
    answer = tenq_pipeline.ask("How many shares of common stock did Best Buy repurchase in Q2 FY2024?")
    assert answer.refused and "could not confirm" in answer.text, answer.text
    assert answer.candidates.get("text")
