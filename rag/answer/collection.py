"""Answers that come from a collection's structure rather than from the model: the documents a
question names (`rag.index.scope`), and the table cell that holds the number asked for
(`cells`). Pure apart from the embedding function passed in.
"""
from __future__ import annotations

import re
from typing import Callable

import numpy as np

from rag.answer import cells, formulas
from rag.answer.decision import CELL_THRESHOLD
from rag.ingest.cards import DocumentCard
from rag.records import Passage, SentenceSupport


_VALUE_WORDS = re.compile(r"\b(?:how much|how many|amount|value|total|ratio|margin|in (?:usd|us\$|\$|dollars)|"
                          r"in (?:millions|billions|thousands)|per share|percent(?:age|s)?|rate|growth|round(?:ed)? to)\b|%",
                          re.IGNORECASE)
_NOT_VALUE = re.compile(r"^\s*(?:why|explain|describe|what drove|which|who|does|did|is|are|has|have|how (?:has|have|did|does|do|is))\b",
                        re.IGNORECASE)


# Words that ask for arithmetic the cells cannot give without a formula (a three-year average, a
# turnover, a change): such a question is read from cells only when it defines its formula.
_ARITHMETIC = re.compile(r"\b(?:average|ratio|times|turnover|change[ds]?|growth|grew|increase[ds]?|decrease[ds]?|"
                         r"margin|per cent of|% of|as a %|compared|difference|if\b)", re.IGNORECASE)


def is_value_question(question: str) -> bool:
    """A question answered by a number ("What is the FY2018 capex (in USD millions)?"), not by words.

    >>> is_value_question("What is the FY2018 capital expenditure amount (in USD millions) for 3M?")
    True
    >>> is_value_question("What drove operating margin change as of FY2022 for 3M?"), is_value_question("Who is the CEO?")
    (False, False)
    """
    return bool(_VALUE_WORDS.search(question)) and not _NOT_VALUE.search(question)


def asks_what_was(question: str) -> bool:
    """A "what was / what were / how much" question (of a line item, it asks for its value).

    >>> asks_what_was("What was Best Buy's revenue in calendar Q2 2023?"), asks_what_was("What drove revenue?")
    (True, False)
    """
    return bool(re.match(r"\s*(?:what\s+(?:was|were|is|are)|how\s+much)\b", question, re.IGNORECASE)) \
        and not _NOT_VALUE.search(question)


ROW_DEPTH = 32  # passages searched for table rows: a statement's rows rank below its prose


def row_query(core: str, formula: tuple | None) -> str:
    """What to search for a value's table rows: the asking sentence (`cells.core_question`), the
    statement captions of its accounting terms and of each term of a formula it defines
    (instructions around it only dilute).

    >>> q = "Using the cash flow statement: what is 3M's FY2018 capex? Answer in USD millions."
    >>> row_query(cells.core_question(q), formulas.formula_of(q))[:60]
    "what is 3M's FY2018 capex? purchases of property plant and e"
    """
    names = " ".join(t.name for t in formula[1]) if formula else ""
    return cells.expand(f"{core} {names}".strip())[:3000]


def asks_arithmetic(core: str) -> bool:
    """The asking sentence wants arithmetic over cells (an average, a change, a ratio...).

    >>> asks_arithmetic("What is the FY2018 capex?"), asks_arithmetic("What is the change in capex?")
    (False, True)
    """
    return bool(_ARITHMETIC.search(core))


def table_rows(passages: list[Passage]) -> list[cells.Row]:
    """The passages' table rows, each knowing its passage's number (from 1)."""
    return [row for n, p in enumerate(passages, start=1) for row in cells.parse_rows(p.chunk.text, n)]


def cosine_to(embed) -> cells.Similarity:
    """The similarity the cell reader takes: cosines of a text to others, by the embedder."""
    def similarity(text: str, others: list[str]) -> list[float]:
        vectors = embed([text] + others)
        return list(vectors[1:] @ vectors[0])
    return similarity


def header_years(card: DocumentCard | None, years: tuple[int, ...], ask=None) -> tuple[int, ...]:
    """The calendar years a table's headers use for the fiscal years asked, by the document's card:
    a fiscal year that ends in a year's first months, or a quarter of it, is headed by the
    calendar year its period ends in (Amcor's Q2 FY2023 ends December 31, 2022). A year the
    question (`ask`, not saying "FY") names the document by, as its file name or the calendar
    reads it, is the document's own period: headed by the year it ends in.

    >>> header_years(DocumentCard(fiscal_year=2023, quarter=2, period_end="2022-12-31"), (2023,))
    (2022,)
    >>> header_years(DocumentCard(fiscal_year=2019, period_end="2019-12-31"), (2017, 2019)), header_years(None, (2018,))
    ((2017, 2019), (2018,))
    """
    if card is None or card.fiscal_year is None or not card.period_end[:4].isdigit():
        return years
    end_year = int(card.period_end[:4])
    shift = card.fiscal_year - end_year

    def own(year: int) -> bool:
        return ask is not None and not ask.fiscal and any(
            r.year == year and r.how != "fiscal" and (ask.quarter is None or r.quarter in (None, ask.quarter))
            for r in card.readings())

    return tuple(end_year if own(y) else y - shift for y in years)


def cell_answer(question, passages: list[Passage], embed: Callable[[list[str]], np.ndarray], terms,
                cards: dict | None = None, threshold: float = CELL_THRESHOLD) -> cells.CellAnswer | None:
    """The cell (or the formula over cells) that answers a value question (a parsed
    `rag.answer.question.Question`), from the passages' table rows; None when the question asks
    for words or no row is close enough."""
    if not question.value:
        return None
    if question.arithmetic and not question.formula:
        return None  # arithmetic nobody defined: left to the model, which cites what it read
    if question.formula and question.metric_years:
        return None  # an average over years is the metric route's; a formula reads one year's column
    rows = table_rows(passages)
    if not rows:
        return None
    cards = cards or {}
    similarity = cosine_to(embed)
    asked = question.asked.years or question.asked.bare_years
    quarter = question.asked.quarter
    place = lambda row, years: header_years(cards.get(passages[row.passage - 1].chunk.source), years, question.asked)
    if question.formula:
        return formulas.read_formula(question.formula, rows, similarity, terms, place, asked, quarter, threshold)
    return cells.read_cell(question.text, rows, similarity, terms, lambda row: place(row, asked), quarter, threshold,
                           core=question.core)


_TREND = re.compile(r"\bhow (?:has|have|did|do|does)\b.*\b(?:chang|trend|evolv|develop|mov|grow|grew|shift)\w*\b.*"
                    r"\b(?:over|across|between|through)\b.*\b(?:quarters|years|periods|filings|reports|time)\b"
                    r"|\bover (?:the )?(?:quarters|years|periods)\b|\bquarter (?:by|over|to) quarter\b|\btrend\b",
                    re.IGNORECASE)


def is_trend_question(question: str) -> bool:
    """A question about a value across periods ("How has net sales changed over the quarters?").

    >>> is_trend_question("How has Ulta's net sales changed over the quarters?"), is_trend_question("What were net sales?")
    (True, False)
    """
    return bool(_TREND.search(question))


def trend_granularity(question: str) -> str:
    """ "quarters", "years" or "" (any): which documents a trend question compares.

    >>> trend_granularity("over the quarters"), trend_granularity("across fiscal years"), trend_granularity("over time")
    ('quarters', 'years', '')
    """
    found = re.search(r"\b(quarter|year)s?\b", question.split(" over ")[-1] if " over " in question else question,
                      re.IGNORECASE)
    return f"{found.group(1).lower()}s" if found else ""


def trend_metric(question: str) -> str:
    """The question without its trend words: what to look for in each document's tables.

    >>> trend_metric("How has Ulta's net sales changed over the quarters?")
    "Ulta's net sales"
    """
    text = re.sub(r"^\s*how (?:has|have|did|do|does)\s+(?:the\s+)?", "", question, flags=re.IGNORECASE)
    text = re.split(r"\s+(?:chang|trend|evolv|develop|mov|grow|grew|shift)\w*\b", text, maxsplit=1, flags=re.IGNORECASE)[0]
    return text.strip(" ?") or question


def value_in(passages: list[Passage], metric: str, card: DocumentCard, embed, terms,
             threshold: float = CELL_THRESHOLD) -> cells.CellAnswer | None:
    """The metric's value for the document's own period, read from its passages' table rows."""
    rows = table_rows(passages)
    if not rows:
        return None
    similarity = cosine_to(embed)
    years = header_years(card, (card.fiscal_year,)) if card.fiscal_year else ()
    return cells.read_cell(metric, rows, similarity, terms, years, card.quarter, threshold)


def cell_sentences(found: cells.CellAnswer) -> list[SentenceSupport]:
    """The cited rows as the answer's evidence sentences, one per row."""
    return [SentenceSupport(row.line, [row.passage], round(found.score, 4), True, [row.passage],
                            {row.passage: row.line}) for row in dict.fromkeys(found.rows)]
