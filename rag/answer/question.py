"""A question parsed once, at the door, into what every stage of the answer reads of it.

The stages (scope → search → route → read → decide → render, see `pipeline`) never parse the
question's text again: the organisation, periods, form and "latest" it names (`Asked`, matched
against the collection's cards), whether it asks for a value, a value across periods or words,
the formula it defines, the kind of answer it expects, and its search terms are read here, from
the checked `Query`, and carried as one frozen record.

Pure: a `Query` and the collection's cards in, a `Question` out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from rag.answer import cells, collection, formulas
from rag.answer.answer_types import answer_kind, expected_answer_type
from rag.answer.line_item import asked_scale
from rag.answer.metrics import asked_metric, averaged_years
from rag.index.lexical import terms
from rag.ingest.line_items import asked_item, names_line_item
from rag.index.asked import Asked, asked
from rag.ingest.cards import DocumentCard
from rag.query import Query
from rag.settings import Settings


@dataclass(frozen=True)
class Question:
    """Everything the stages read of one question (build it with `parse`).

    >>> q = parse(Query.checked("How has Ulta's net sales changed over the quarters?"))
    >>> q.trend, q.granularity, q.trend_metric, q.value
    (True, 'quarters', "Ulta's net sales", False)
    >>> q = parse(Query.checked("What is the FY2018 capital expenditure amount (in USD millions) for 3M?"))
    >>> q.value, q.asked.years, q.formula is None, q.row_query[:40]
    (True, (2018,), True, 'What is the FY2018 capital expenditure a')
    """

    text: str
    k: int = Settings.k
    mode: str = Settings.mode
    asked: Asked = field(default_factory=Asked)  # the document it names: organisation, periods, form, latest
    answer_type: str | None = None  # "year", "date", "quantity" when its wording asks for one
    answer_kind: str | None = None  # the kind of value any answer holds: answer_type, or "date" for "when"
    core: str = ""  # the asking sentence without the instructions around it (cells.core_question)
    value: bool = False  # answered by a number, not by words (collection.is_value_question; "what was" a line item)
    arithmetic: bool = False  # asks for arithmetic over cells (an average, a change, a ratio)
    formula: tuple | None = None  # the formula it defines or implies: (expression, terms), formulas.formula_of
    row_query: str = ""  # what to search for its table rows (collection.row_query)
    trend: bool = False  # a value across periods ("over the quarters")
    granularity: str = ""  # "quarters", "years" or "" (any): which documents a trend compares
    trend_metric: str = ""  # the trend question without its trend words: what to read in each document
    terms: frozenset[str] = frozenset()  # its search terms (index.lexical.terms)
    metric: str = ""  # the standard metric it names (answer.metrics), unless it defines its own formula
    item: str = ""  # the standard line item it asks for ("revenue"; ingest.line_items.asked_item), "" for none
    formula_items: tuple[str, ...] = ()  # the standard line item of each of the formula's terms ("" for none)
    beyond_definition: bool = False  # it asks for more than the quantity it defines (formulas.asks_beyond_definition)
    scale: float | None = None  # the unit it asks an amount in ("in USD millions": 1e6; line_item.asked_scale)
    metric_years: tuple[int, ...] = ()  # the fiscal years its metric is averaged over (metrics.averaged_years)

    @property
    def query(self) -> Query:
        return Query(self.text, self.k, self.mode)


def parse(query: Query, cards: Iterable[DocumentCard] = ()) -> Question:
    """The one parse of a checked question; `cards` are the collection's (what an organisation
    name is matched against: name, file-name aliases, ticker)."""
    text = query.text
    formula = formulas.formula_of(text)
    core = cells.core_question(text)
    trend = collection.is_trend_question(text)
    item = asked_item(core or text)
    named = asked(text, [c for c in cards if c.identified])
    return Question(
        text=text, k=query.k, mode=query.mode,
        asked=named,
        answer_type=(typed := expected_answer_type(text)),
        answer_kind=answer_kind(text, typed),
        core=core,
        value=collection.is_value_question(text) or names_line_item(core or text) and collection.asks_what_was(core or text),
        arithmetic=collection.asks_arithmetic(core),
        formula=formula,
        row_query=collection.row_query(core, formula),
        trend=trend,
        granularity=collection.trend_granularity(text) if trend else "",
        trend_metric=collection.trend_metric(text) if trend else "",
        terms=frozenset(terms(text)),
        item=item,
        formula_items=tuple(asked_item(term.name) for term in formula[1]) if formula else (),
        beyond_definition=formulas.asks_beyond_definition(text),
        scale=asked_scale(text),
        metric_years=averaged_years(text, named.years),
        metric="" if formulas.defines(text) or not (found := asked_metric(core or text)) else found.name,
    )
