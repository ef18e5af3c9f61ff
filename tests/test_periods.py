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


def test_a_first_half_is_searched_in_the_second_quarters_filing():
    """A first half is reported in the second quarter's 10-Q (its six-months columns), not in
    the year's current reports nor the first quarter's."""
    from rag.ingest.cards import DocumentCard

    mgm = "MGM RESORTS INTERNATIONAL"
    cards = {"8k": DocumentCard(organisation=mgm, kind="8-K", fiscal_year=2023, period_end="2023-03-01", aliases=("MGM",)),
             "q1": DocumentCard(organisation=mgm, kind="10-Q", fiscal_year=2023, quarter=1, period_end="2023-03-31",
                                aliases=("MGM",)),
             "q2": DocumentCard(organisation=mgm, kind="10-Q", fiscal_year=2023, quarter=2, period_end="2023-06-30",
                                aliases=("MGM",))}
    for question in ("Which debt received the largest investment among MGM's short term investments in H1 FY2023?",
                     "What were MGM's revenues in the first half of 2023?"):
        assert choose_scope(asked(question, list(cards.values())), cards).sources == ("q2",), question


def test_a_contracted_name_is_its_organisations():
    """"AMEX" and "JnJ" name American Express and Johnson & Johnson; an acronym of a financial
    term ("EPS", "SG&A") names nobody."""
    from rag.ingest.cards import DocumentCard

    cards = {"axp": DocumentCard(organisation="American Express Company", kind="10-K", fiscal_year=2022),
             "jnj": DocumentCard(organisation="JOHNSON & JOHNSON", kind="10-K", fiscal_year=2022),
             "gis": DocumentCard(organisation="GENERAL MILLS, INC.", kind="10-K", fiscal_year=2022)}
    scope = lambda question: choose_scope(asked(question, list(cards.values())), cards).sources
    assert scope("Does AMEX have an improving operating margin profile as of 2022?") == ("axp",)
    assert scope("How did JnJ's US sales growth compare in FY2022?") == ("jnj",)
    assert scope("What is the FY2022 SG&A to EPS ratio, as told at the AGM?") == ()


def test_what_is_expected_of_a_year_is_searched_in_the_year_befores_filing():
    """A forecast for FY2023 is in the FY2022 annual report; a result of FY2023 is not held."""
    from rag.ingest.cards import DocumentCard

    cards = {"k22": DocumentCard(organisation="THE BOEING COMPANY", kind="10-K", fiscal_year=2022, period_end="2022-12-31"),
             "k20": DocumentCard(organisation="THE BOEING COMPANY", kind="10-K", fiscal_year=2020, period_end="2020-12-31")}
    ahead = choose_scope(asked("What production rate changes is Boeing forecasting for FY2023?", list(cards.values())), cards)
    result = choose_scope(asked("What was Boeing's FY2023 revenue?", list(cards.values())), cards)
    assert ahead.sources == ("k22",) and result.missing.startswith("The documents hold no FY2023 filing")


def test_a_question_naming_no_period_reads_the_newest_filings_first():
    """"How much does Pfizer expect to pay …?" names no period: the newest annual report and
    the newest filing are read first, whichever passages rank higher in the older ones."""
    from rag.ingest.cards import DocumentCard

    pfizer = "PFIZER INC"
    cards = {"k20": DocumentCard(organisation=pfizer, kind="10-K", fiscal_year=2020),
             "k21": DocumentCard(organisation=pfizer, kind="10-K", fiscal_year=2021),
             "q23": DocumentCard(organisation=pfizer, kind="10-Q", fiscal_year=2023, quarter=2),
             "other": DocumentCard(organisation="3M", kind="10-K", fiscal_year=2021)}
    timeless = choose_scope(asked("How much does Pfizer expect to pay to spin off Upjohn?", list(cards.values())), cards)
    dated = choose_scope(asked("What was Pfizer's FY2020 revenue?", list(cards.values())), cards)
    assert timeless.sources == ("k20", "k21", "q23") and timeless.first == ("k21", "q23")
    assert dated.first == ()


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
