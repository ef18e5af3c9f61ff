"""The standard financial metrics in code (rag/answer/metrics.py): chosen by name from a list,
computed from a filing's statement facts with each input cited, refused in words when an input is
missing; a formula the question defines itself still wins."""
from __future__ import annotations

import re

import pytest

from rag.answer.metrics import METRICS, asked_metric, compute, variants
from rag.answer.question import parse
from rag.ingest.facts import Fact
from rag.query import Query

NAMES = [(m.name, name) for m in METRICS for name in m.names]


@pytest.mark.parametrize("metric,name", NAMES, ids=[f"{m}:{n}" for m, n in NAMES])
def test_each_name_chooses_its_metric(metric, name):
    assert asked_metric(f"What was the company's {name.upper()} in FY2023?").name == metric


def _fact(item, value, scale=1e6):
    return Fact("f.pdf", 3, "balance", "", item.title(), item, "2023", "2023", None, value, scale, "USD", f"{value:,}")


def test_metrics_compute_their_textbook_definitions():
    facts = {"total current assets": [_fact("total current assets", 8304.0)], "inventories": [_fact("inventories", 5651.0)],
             "total current liabilities": [_fact("total current liabilities", 8433.0)],
             "revenue": [_fact("revenue", 200.0)], "cost of revenue": [_fact("cost of revenue", 150.0)]}
    chosen = lambda item: facts.get(item, [])  # noqa: E731
    quick = compute(variants("quick ratio")[0], chosen, None)
    assert quick.value == pytest.approx((8304 - 5651) / 8433) and quick.shown() == "0.31"
    gross = next(v for m in variants("gross margin") if (v := compute(m, chosen, None)))  # no gross profit printed
    assert gross.shown() == "25.00%" and "revenue - cost of revenue" in gross.formula()
    two = {**facts, "revenue": [_fact("revenue", 200.0), _fact("revenue", 210.0)]}  # two values: no answer
    assert all(compute(m, lambda item: two.get(item, []), None) is None for m in variants("gross margin"))


def test_a_formula_the_question_defines_wins_over_the_list():
    defined = parse(Query.checked("The current ratio is defined as: total current assets divided by total current "
                                  "liabilities. What is it for FY2022?"))
    named = parse(Query.checked("What is Best Buy's current ratio for Q2 FY2024?"))
    assert defined.metric == "" and defined.formula is not None and named.metric == "current ratio"


@pytest.mark.parametrize("question,expected,inputs", [
    ("What is Best Buy's quick ratio in its Q2 FY2024 10-Q?", "0.31", ["8,304", "5,651", "8,433"]),
    ("What is Amcor's current ratio for Q2 FY2023?", "1.33", ["5,863", "4,393"]),
    ("What is Best Buy's days sales outstanding in Q2 FY2024?", "8.1 days", ["856", "9,583"]),
])
def test_a_named_metric_is_computed_from_the_filings_statements_with_its_inputs_cited(question, expected, inputs,
                                                                                      tenq_pipeline):
    answer = tenq_pipeline.ask(question)
    assert not answer.refused and answer.short_answer == expected, answer.text
    assert all(value in answer.formula for value in inputs) and len(answer.cited) == len(inputs)
    assert all(value in " ".join(s.text for s in answer.sentences) for value in inputs)


def test_a_metric_whose_input_the_statements_lack_is_refused_in_words(tenq_pipeline):
    answer = tenq_pipeline.ask("What was Adobe's operating margin in Q2 FY2023?")
    assert answer.refused and answer.text.startswith("The operating margin needs ") and "statements" in answer.text


def test_a_metric_averaged_over_the_years_a_question_spans_is_each_years_metric_averaged():
    """FinanceBench's Best Buy FY2015 - FY2017 3 year average net profit margin (gold 2.8%), from the
    income statement's three columns: the mean of the three margins, not a ratio of sums; a year
    with no fact computes nothing (an average of two years is another number)."""
    from rag.answer.metrics import averaged

    printed = {2015: (1235.0, 40339.0), 2016: (897.0, 39528.0), 2017: (1228.0, 39403.0)}
    question = parse(Query.checked("In agreement with the information outlined in the income statement, what is the "
                                   "FY2015 - FY2017 3 year average net profit margin (as a %) for Best Buy?"))
    assert question.metric == "net margin" and question.metric_years == (2015, 2016, 2017)

    def for_year(year, held=printed):
        net, revenue = held.get(year, (None, None))
        return lambda item: [_fact(item, {"net income": net, "revenue": revenue}[item])] if net else []

    found = averaged(variants("net margin")[0], for_year, None, question.metric_years)
    assert found.shown() == "2.82%" and "(3.06% + 2.27% + 3.12%) / 3" in found.formula()
    assert averaged(variants("net margin")[0], lambda y: for_year(y, {2015: printed[2015], 2017: printed[2017]}),
                    None, question.metric_years) is None


def test_an_average_over_years_is_never_one_years_formula(embedder):
    """"The FY2018 - FY2020 3 year average unadjusted EBITDA % margin … Define unadjusted EBITDA as
    operating income + D&A": the question's formula defines an input, and one column of cells
    computes one year's EBITDA (Walmart's FY2020 31,555, shown as the answer before). Only the
    averaged metric answers it; the cell route gives nothing."""
    from rag.answer.collection import cell_answer
    from rag.records import Chunk, Passage

    question = parse(Query.checked(
        "What is the FY2018 - FY2020 3 year average unadjusted EBITDA % margin for Walmart? Define unadjusted EBITDA "
        "as unadjusted operating income + depreciation and amortization from the cash flow statement."))
    text = ("Consolidated Statements of Income (in millions) — Operating income — 2020: 20,568; 2019: 21,957; "
            "2018: 20,437\nConsolidated Statements of Cash Flows (in millions) — Depreciation and amortization — "
            "2020: 10,987; 2019: 10,678; 2018: 10,529")
    row = Passage(Chunk("c", "wmt.pdf", ("Statements",), text, 0, 0), 1.0, 1)
    words = lambda t: set(re.findall(r"[a-z]+", t.lower()))
    assert question.formula and question.metric_years == (2018, 2019, 2020)
    assert cell_answer(question, [row], embedder.embed_passages, words, threshold=0.0) is None
