"""Periods read every way a person writes them, on a folder of five companies' 10-Qs (trimmed
public filings, eval/data/tenq_lookalikes/PROVENANCE.md) named as a user names them ("2023 Q1
WMT.pdf"): a question that names its filing by the fiscal year, the calendar, the file name or
the period end is searched in that filing, and only there; "the documents hold no … filing" is
said only when no reading matches, and names what the folder holds in the question's terms."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets import dataset_dir
from rag.index.engines import document_card
from rag.index.asked import asked
from rag.index.scope import choose_scope
from rag.ingest.cards import resolve_quarters
from rag.ingest.readers import read_blocks

FOLDER = dataset_dir("tenq_lookalikes")
QUESTIONS = [json.loads(line) for line in
             (Path(__file__).resolve().parent.parent / "eval/sets/tenq-lookalikes.jsonl").read_text().splitlines()]
HELD = [q for q in QUESTIONS if q["document"]]
NOT_HELD = [q for q in QUESTIONS if not q["document"]]


@pytest.fixture(scope="module")
def cards():
    return resolve_quarters({p.name: document_card(p, read_blocks(p)) for p in sorted(FOLDER.glob("*.pdf"))})


def test_the_set_names_periods_every_way_and_some_not_held():
    assert {q["named_by"] for q in HELD} == {"fiscal", "calendar", "file name", "period end"}
    assert {q["named_by"] for q in NOT_HELD} == {"fiscal", "calendar", "file name", "period end"}


def test_each_filings_card_holds_its_fiscal_quarter_from_its_own_year_end(cards):
    """A 10-Q's cover says only the date its quarter ends; the filing says in which month its
    fiscal year ends, and the quarter is placed by it (Walmart's quarter to April 30, 2023 is
    Q1 FY2024; Amcor's to December 31, 2022 is Q2 FY2023)."""
    lines = {name: card.line() for name, card in cards.items()}
    assert lines["2023 Q1 WMT.pdf"] == "WALMART INC · 10-Q · Q1 FY2024"
    assert lines["2023 Q2 BBY.pdf"] == "BEST BUY CO., INC · 10-Q · Q2 FY2024"
    assert lines["2022 Q4 AMCR.pdf"] == "AMCOR PLC · 10-Q · Q2 FY2023"
    assert lines["2022 Q1 JPM.pdf"] == "JPMorgan Chase & Co · 10-Q · Q1 FY2022"
    assert cards["2022 Q1 JPM.pdf"].period_end == "2022-03-31"  # the date printed a column after "ended"
    assert all(card.file_period == name[:7] for name, card in cards.items())


@pytest.mark.parametrize("question", HELD, ids=[q["id"] for q in HELD])
def test_a_question_is_searched_in_the_filing_it_names_however_it_names_the_period(question, cards):
    scope = choose_scope(asked(question["question"], list(cards.values())), cards)
    assert scope.missing == ""
    assert scope.sources == (question["document"],)


@pytest.mark.parametrize("question", NOT_HELD, ids=[q["id"] for q in NOT_HELD])
def test_a_period_not_held_is_said_so_with_what_is_held_of_that_company(question, cards):
    scope = choose_scope(asked(question["question"], list(cards.values())), cards)
    assert scope.sources == () and scope.missing.startswith("The documents hold no ")
    organisation = {"jpm": "JPMorgan", "wmt": "WALMART", "amcr": "AMCOR", "bby": "BEST BUY"}[question["id"].split("-")[0]]
    assert organisation in scope.missing and "quarter ended" in scope.missing
    others = {"JPMorgan", "WALMART", "AMCOR", "BEST BUY", "ADOBE"} - {organisation}
    assert not any(other in scope.missing for other in others)


def test_the_missing_answer_uses_the_questions_terms(cards):
    fiscal = choose_scope(asked("What were Walmart's total revenues in Q3 FY2024?", list(cards.values())), cards)
    bare = choose_scope(asked("What was JPMorgan's net income in Q3 2022?", list(cards.values())), cards)
    assert "no Q3 FY2024 filing of WALMART INC" in fiscal.missing and "Q1 FY2024, quarter ended April 30, 2023" in fiscal.missing
    assert "no Q3 2022 filing of JPMorgan" in bare.missing and "2022 Q2 (Q2 FY2022, quarter ended June 30, 2022)" in bare.missing


def test_a_question_naming_one_company_never_reads_another_companys_filings(tenq_pipeline):
    """Through the real index and search: every passage a question is answered from is in the
    filing it names; a period not held is answered by saying so, with no passages."""
    for question in QUESTIONS:
        found = tenq_pipeline.find(question["question"])
        sources = {Path(p.chunk.source).name for p in found.retrieved}
        if question["document"]:
            assert sources == {question["document"]}, question["id"]
        else:
            assert found.retrieved == [] and found.scope.missing, question["id"]
