"""Statements read into facts at indexing: every caption of the standard line items maps to its
item, the vendored 10-Qs' statements give the values their filings print for their own quarter,
and `rag facts FILE` shows them (and says in one line what it cannot)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.ingest.line_items import LINE_ITEMS_FILE, normalised_label, standard_item

CAPTIONS = [(item, caption) for item, captions in json.loads(LINE_ITEMS_FILE.read_text()).items()
            if not item.startswith("_") for caption in captions]
QUESTIONS = [json.loads(line) for line in
             (Path(__file__).resolve().parent.parent / "eval/sets/tenq-lookalikes.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("item,caption", CAPTIONS, ids=[f"{i}:{c}" for i, c in CAPTIONS])
def test_each_caption_is_its_standard_line_item(item, caption):
    assert normalised_label(caption) == caption  # written as the lookup normalises
    assert standard_item(caption.title()) == item  # as a filing prints it: "Net Sales"


def test_no_caption_belongs_to_two_items():
    captions = [caption for _, caption in CAPTIONS]
    assert len(captions) == len(set(captions))


def test_a_caption_that_holds_a_standard_one_but_names_another_item_is_asked_for_as_none():
    from rag.ingest.line_items import asked_item, not_standard

    assert not set(not_standard()) & {caption for _, caption in CAPTIONS}
    assert asked_item("What was the deferred revenue at July 29, 2023?") == ""
    assert asked_item("What was the revenue at July 29, 2023?") == "revenue"


def test_a_caption_close_to_a_standard_one_is_not_taken_for_it():
    assert standard_item("Revenue from Hawaii") == "" and standard_item("Net income per share") == ""
    assert standard_item("Total revenues(a)") == "revenue" and standard_item("Net cash provided by (used in) operating "
                                                                           "activities") == "cash from operations"


@pytest.fixture(scope="module")
def facts(tenq_index):
    from rag.index import store
    from rag.index.facts_store import read_facts

    return read_facts(store.live_generation(tenq_index))


# The question set's values by line item: what its filing's statement prints for its own quarter.
ITEMS = {"total revenues": "revenue", "net sales": "revenue", "revenue": "revenue", "total revenue": "revenue",
         "total net revenue": "revenue", "net income": "net income", "net earnings": "net income",
         "consolidated net income": "net income", "total assets": "total assets"}


@pytest.mark.parametrize("question", [q for q in QUESTIONS if q["answers"]], ids=lambda q: q["id"])
def test_the_statement_facts_hold_the_value_the_filing_prints(question, facts):
    item = next(v for k, v in sorted(ITEMS.items(), key=lambda kv: -len(kv[0])) if k in question["question"].lower())
    value = float(question["answers"][0].replace(",", ""))
    held = [f for f in facts if Path(f.source).name == question["document"] and f.item == item and f.statement]
    assert held, (question["id"], item)
    assert any(f.value == value and f.scale == 1e6 and f.unit == "USD" for f in held), [(f.period, f.value) for f in held]


def test_a_question_naming_one_of_two_printed_rows_of_its_item_reads_that_row(tenq_index, embedder, facts):
    """Walmart's income statement prints revenue twice (Net sales, Total revenues): asked for its
    total revenues, the line-item route reads that row; asked for its revenue, neither. The same
    caption in another table is no such reading."""
    from rag.answer.line_item import value_of
    from rag.index.retrieval import Retriever

    source = next(f.source for f in facts if f.source.endswith("2023 Q1 WMT.pdf"))
    card = Retriever.open(tenq_index, embedder).cards()[source]
    mine = [f for f in facts if f.source == source]
    asked = value_of("revenue", mine, card, (2024,), 1e6, wording="What were Walmart's total revenues in its Q1 FY2024 10-Q?")
    assert asked is not None and asked.fact.label == "Total revenues" and asked.fact.value == 152301.0
    assert value_of("revenue", mine, card, (2024,), 1e6, wording="What was Walmart's revenue in Q1 FY2024?") is None
    # JPMorgan prints "Total assets" for its VIEs (34,256) in another table than its own "Total assets(a)"
    jpm = next(f.source for f in facts if f.source.endswith("2022 Q2 JPM.pdf"))
    read = value_of("total assets", [f for f in facts if f.source == jpm], Retriever.open(tenq_index, embedder).cards()[jpm],
                    (2022,), 1e6, wording="What were JPM's total assets as of the quarter ended June 30, 2022?")
    assert read is None or read.fact.value == 3841314.0


def test_facts_are_stored_in_the_generation_and_name_their_statement(tenq_index, facts):
    from rag.index import store
    from rag.index.facts_store import FACTS_FILE

    assert (store.live_generation(tenq_index) / FACTS_FILE).is_file()
    statements = {f.statement for f in facts if f.item}
    assert {"income", "balance", "cash flow"} <= statements


def _rag(*args):
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, timeout=300)


def test_rag_facts_prints_a_filings_facts_and_refuses_a_file_it_does_not_hold(tenq_index):
    from eval.datasets import dataset_dir

    shown = _rag("facts", str(dataset_dir("tenq_lookalikes") / "2023 Q1 WMT.pdf"), "--index", str(tenq_index),
                 "--item", "revenue")
    assert shown.returncode == 0, shown.stderr
    assert "Total revenues" in shown.stdout and "152,301 million" in shown.stdout and "[3 months]" in shown.stdout
    as_json = json.loads(_rag("facts", "2023 Q1 WMT.pdf", "--index", str(tenq_index), "--json").stdout)
    assert {f["item"] for f in as_json} >= {"revenue", "net income", "total assets", "cash from operations"}
    none = _rag("facts", "2023 Q1 WMT.pdf", "--index", str(tenq_index), "--item", "research and development")
    assert none.stdout.startswith("no statement fact for 'research and development' was read from 2023 Q1 WMT.pdf")  # not "no facts"
    missing = _rag("facts", "nowhere.pdf", "--index", str(tenq_index))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "2023 Q1 WMT.pdf" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_damaged_facts_are_one_line_for_rag_facts_and_no_crash_for_an_answer(tmp_path, embedder):
    """A facts file that is not a database: `rag facts` says so in one line (exit 2), and answering
    goes on without facts (the numbers then go unconfirmed, never a traceback)."""
    from eval.datasets import dataset_dir
    from rag.index import store
    from rag.index.facts_store import FACTS_FILE
    from rag.index.indexer import build_index
    from rag.index.retrieval import Retriever

    filing = dataset_dir("tenq_lookalikes") / "2023 Q1 WMT.pdf"
    build_index([filing], tmp_path / "index", embedder, progress=False)
    (store.live_generation(tmp_path / "index") / FACTS_FILE).write_text("not a database")
    shown = _rag("facts", str(filing), "--index", str(tmp_path / "index"))
    assert shown.returncode == 2 and "damaged" in shown.stderr and "Traceback" not in shown.stderr, shown.stderr
    assert Retriever.open(tmp_path / "index", embedder).facts(str(filing)) == []


def test_a_statement_whose_header_line_stayed_in_the_title_still_gives_each_cell_its_period():
    """Adobe's 2017 balance sheet as read: the two dates above the columns stayed in the row's
    title and the cells have no header; its facts are its periods', and it is named a balance
    sheet by its lines. A title with fewer dates than cells gives no facts rather than a guess."""
    from rag.ingest.facts import document_facts
    from rag.records import Chunk

    title = "December 1, 2017 December 2, 2016 ASSETS Current assets:"
    rows = [f"{title} — Total current assets — 7,247,813; 5,839,774",
            f"{title} — Total current liabilities — 3,527,457; 2,811,635",
            "2017 Revenue by quarter — Revenue — 1,682; 1,772; 1,841"]
    facts = document_facts([Chunk("c", "adobe.pdf", (), "\n".join(rows), 0, 0, 57)])
    assert [(f.item, f.period_end, f.value, f.statement) for f in facts] == [
        ("total current assets", "2017-12-01", 7247813.0, "balance"), ("total current assets", "2016-12-02", 5839774.0, "balance"),
        ("total current liabilities", "2017-12-01", 3527457.0, "balance"),
        ("total current liabilities", "2016-12-02", 2811635.0, "balance")]


def test_a_statement_printed_as_running_text_is_read_row_by_row_across_its_pages_chunks():
    """Amazon's 2017 10-K as PDFium reads it: the balance sheet is text, not table rows (38 of the
    132 FinanceBench filings gave no statement fact before). Each caption followed by one number
    per column is a row, for every chunk of the page; a run of another length, and prose that
    only mentions the statements, give nothing."""
    from rag.ingest.facts import document_facts
    from rag.records import Chunk

    first = ("CONSOLIDATED BALANCE SHEETS (in millions, except per share data) December 31, 2016 2017 ASSETS "
             "Current assets: Cash and cash equivalents $ 19,334 $ 20,522 Inventories 11,461 16,047")
    second = "Total current liabilities 43,816 57,883 Long-term debt 7,694 24,743 3 Other 1 2"
    prose = Chunk("p", "amzn.pdf", (), "Our Consolidated Balance Sheets at December 31, 2016 2017 show Inventories 1 2", 0, 0, 12)
    facts = document_facts([prose, Chunk("a", "amzn.pdf", (), first, 0, 0, 39), Chunk("b", "amzn.pdf", (), second, 0, 1, 39)])
    assert [(f.item, f.period_end, f.value, f.scale) for f in facts if f.item] == [
        ("cash and equivalents", "2016-12-31", 19334.0, 1e6), ("cash and equivalents", "2017-12-31", 20522.0, 1e6),
        ("inventories", "2016-12-31", 11461.0, 1e6), ("inventories", "2017-12-31", 16047.0, 1e6),
        ("total current liabilities", "2016-12-31", 43816.0, 1e6), ("total current liabilities", "2017-12-31", 57883.0, 1e6)]
    assert {f.page for f in facts} == {39} and {f.statement for f in facts} == {"balance"}


def test_statements_as_running_text_with_a_dash_cell_a_heading_title_or_headings_before_a_row():
    """Three 10-Ks of FinanceBench as PDFium reads them, each giving no fact for these lines before:
    Netflix 2017 (a "—" cell, which is also the table rows' separator, on the line), Nike 2019 (the
    title read as the chunk's heading, the text starting at the column headers) and MGM Resorts
    2018 (a row after headings with no colon: "LIABILITIES AND STOCKHOLDERS' EQUITY Current
    liabilities Accounts payable")."""
    from rag.ingest.facts import document_facts
    from rag.records import Chunk

    netflix = ("CONSOLIDATED BALANCE SHEETS (in thousands, except share and per share data) As of December 31, 2017 "
               "2016 Assets Current assets: Cash and cash equivalents $ 2,822,795 $ 1,467,576 Short-term investments — "
               "266,206 Total current assets 7,669,974 5,720,291")
    nike = ("MAY 31, (Dollars in millions) 2019 2018 ASSETS Current assets: Cash and equivalents $ 4,466 $ 4,249 "
            "Total current assets 16,525 15,134")
    mgm = ("CONSOLIDATED BALANCE SHEETS (In thousands, except share data) December 31, 2018 2017 ASSETS Current assets "
           "Total current assets 2,526,778 2,376,355 $ 30,210,706 $ 29,160,042 LIABILITIES AND STOCKHOLDERS' EQUITY "
           "Current liabilities Accounts payable $ 302,578 $ 255,028")
    read = lambda chunk: {(f.item, f.period_end, f.value) for f in document_facts([chunk]) if f.item}  # noqa: E731
    assert {("total current assets", "2017-12-31", 7669974.0), ("total current assets", "2016-12-31", 5720291.0)} \
        <= read(Chunk("n", "nflx.pdf", (), netflix, 0, 0, 45))
    assert {("total current assets", "2019", 16525.0)} <= read(Chunk("k", "nke.pdf", ("CONSOLIDATED BALANCE SHEETS",), nike, 0, 0, 54))
    assert {("accounts payable", "2018-12-31", 302578.0), ("accounts payable", "2017-12-31", 255028.0)} \
        <= read(Chunk("m", "mgm.pdf", (), mgm, 0, 0, 56))
    assert read(Chunk("k", "nke.pdf", ("Liquidity",), nike, 0, 0, 54)) == set()  # no statement's title: no statement


def test_a_formula_the_question_defines_is_computed_from_the_facts_of_each_fiscal_year():
    """FinanceBench's Amazon FY2017 DPO (gold 93.86) from statements read as text: accounts
    payable is the balance sheet's level, never the cash-flow statement's change in it; a term
    with no fact for its year computes nothing."""
    from rag.answer import fact_formulas
    from rag.answer.formulas import formula_of
    from rag.ingest.facts import document_facts
    from rag.records import Chunk

    pages = {37: "CONSOLIDATED STATEMENTS OF OPERATIONS (in millions) Year Ended December 31, 2015 2016 2017 "
                 "Total net sales 107,006 135,987 177,866 Operating expenses: Cost of sales 71,651 88,265 111,934",
             36: "CONSOLIDATED STATEMENTS OF CASH FLOWS (in millions) Year Ended December 31, 2015 2016 2017 "
                 "Changes in operating assets and liabilities: Accounts payable 4,294 5,030 7,175",
             39: "CONSOLIDATED BALANCE SHEETS (in millions) December 31, 2016 2017 Current assets: Inventories "
                 "11,461 16,047 Current liabilities: Accounts payable $ 25,309 $ 34,616"}
    facts = document_facts([Chunk(str(p), "amzn.pdf", (), t, 0, 0, p) for p, t in sorted(pages.items())])
    question = ("What is Amazon's FY2017 days payable outstanding (DPO)? DPO is defined as: 365 * (average accounts "
                "payable between FY2016 and FY2017) / (FY2017 COGS + change in inventory between FY2016 and FY2017).")
    found = fact_formulas.compute(formula_of(question), ("accounts payable", "cost of revenue", "inventories"), facts, None,
                                  (2016, 2017))
    assert round(found.value, 2) == 93.86 and {f.page for f in found.inputs} == {37, 39}
    growth = fact_formulas.compute(formula_of("the year-over-year change in revenue from FY2016 to FY2017"), ("revenue",) * 3,
                                   facts, None, ())
    assert round(growth.value, 1) == 30.8
    assert fact_formulas.compute(formula_of("the year-over-year change in revenue from FY2017 to FY2018"), ("revenue",) * 3,
                                 facts, None, ()) is None
