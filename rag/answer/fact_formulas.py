"""A formula the question defines (or implies: a growth rate, a CAGR), computed from the filing's
statement facts rather than from cells found by search.

FinanceBench's metric questions name their inputs by fiscal year ("365 * (average accounts
payable between FY2016 and FY2017) / (FY2017 COGS + change in inventory between FY2016 and
FY2017)"). The cell route finds each input among the table rows that retrieval reached, and on
a 10-K of 100 pages it often reaches the wrong row or none. The facts hold every statement line
for every column the statements print, so each term is looked up by its standard line item and
fiscal year. A term is taken only when the statements give it one value for that year (two
differing values, or none, and the formula is not computed), and the caller cites each input's
printed row, so the answer can be checked against the page.

Pure: facts and a card in, a value with its inputs out.
"""
from __future__ import annotations

from dataclasses import dataclass

from rag.answer.formulas import Term, evaluate
from rag.ingest.cards import DocumentCard
from rag.ingest.facts import Fact
from rag.ingest.line_items import BALANCE_ITEMS, home_statements

_HOW = {"average": "average of ", "change": "change, "}


@dataclass(frozen=True)
class FactFormula:
    value: float
    shown: str  # the formula with each input as printed: "accounts payable [average of 25,309 (FY2016), ...]"
    inputs: tuple[Fact, ...]


def year_offset(card: DocumentCard | None) -> int:
    """Calendar year of a fiscal year's end minus the fiscal year (0 for most filers; Walmart's
    FY2018 ends on January 31, 2018: 0 too; a filer that names its year by its start: 1)."""
    if card is None or not card.period_end or card.fiscal_year is None:
        return 0
    return int(card.period_end[:4]) - card.fiscal_year


def year_facts(facts: list[Fact], item: str, year: int, offset: int = 0) -> list[Fact]:
    """The statement facts of a line item for a fiscal year: the column ending in that year,
    a full year's (twelve months, or a balance sheet's date), from the balance sheet for a level
    and from the income or cash-flow statement for a flow.

    >>> f = lambda st, end, months, v: Fact("k.pdf", 9, st, "", "Accounts payable", "accounts payable", end, end, months, v, 1e6, "USD", str(v))
    >>> [x.value for x in year_facts([f("cash flow", "2017-12-31", 12, 7175.0), f("balance", "2017-12-31", None, 34616.0),
    ...                               f("balance", "2016-12-31", None, 25309.0)], "accounts payable", 2017)]
    [34616.0]

    Two values for one year are settled by the page that prints the most of the statement's lines.
    """
    held = [f for f in facts if item and f.item == item and f.statement and f.period_end[:4] == str(year + offset)
            and f.months in (12, None)]
    held = [f for f in held if f.statement in home_statements(item)] or ([] if item in BALANCE_ITEMS else held)
    if len({f.value * f.scale for f in held}) > 1:  # segment tables, selected data, MD&A: the statement's own page
        fullest = _fullest_pages(facts)
        best = max(fullest.get((f.statement, f.page), 0) for f in held)
        held = [f for f in held if fullest.get((f.statement, f.page), 0) == best]
    return held


def _fullest_pages(facts: list[Fact]) -> dict[tuple[str, int | None], int]:
    """How many standard line items each page prints of its statement: the statement itself
    prints the most (a segment table repeats revenue alone, selected data a handful)."""
    items: dict[tuple[str, int | None], set[str]] = {}
    for f in facts:
        if f.item and f.statement:
            items.setdefault((f.statement, f.page), set()).add(f.item)
    return {key: len(held) for key, held in items.items()}


def term_value(term: Term, item: str, facts: list[Fact], years: tuple[int, ...], offset: int) -> tuple[float, list[Fact]] | None:
    """A term's magnitude (statements print outflows in parentheses; a question's "capex" is the
    amount spent) from one fact per year of its standard line `item`: its own years, else the
    question's last."""
    if not item:
        return None
    found = []
    for year in term.years or years[-1:]:
        held = year_facts(facts, item, year, offset)
        if len({f.value * f.scale for f in held}) != 1:
            return None
        found.append(held[0])
    values = [abs(f.value * f.scale) for f in found]
    if term.how == "average":
        return sum(values) / len(values), found
    if term.how == "change":
        return values[-1] - values[0], found
    return values[0], found


def compute(parsed: tuple[str, list[Term]] | None, items: tuple[str, ...], facts: list[Fact], card: DocumentCard | None,
            years: tuple[int, ...]) -> FactFormula | None:
    """The formula's value from the facts (`items`: each term's standard line item, as the
    question's parse read them), or None when a term has no single fact per year.

    >>> from rag.answer.formulas import formula_of
    >>> f = lambda item, end, v: Fact("k.pdf", 9, "income", "", item.title(), item, end, end, 12, v, 1e6, "USD", f"{v:,.0f}")
    >>> facts = [f("revenue", "2017-12-31", 177866.0), f("revenue", "2016-12-31", 135987.0)]
    >>> growth = formula_of("the year-over-year change in revenue from FY2016 to FY2017")
    >>> found = compute(growth, ("revenue",) * 3, facts, None, (2016, 2017))
    >>> round(found.value, 1), found.shown
    (30.8, '(revenue [177,866 (FY2017)] - revenue [135,987 (FY2016)]) / (revenue [135,987 (FY2016)]) * 100')
    """
    if parsed is None or not years and not all(t.years for t in parsed[1]):
        return None
    expression, named = parsed
    offset = year_offset(card)
    values, inputs, shown = [], [], []
    if len(items) != len(named):
        return None
    for term, item in zip(named, items):
        read = term_value(term, item, facts, years, offset)
        if read is None:
            return None
        values.append(read[0])
        inputs.extend(read[1])
        cells = ", ".join(f"{f.text} (FY{int(f.period_end[:4]) - offset})" for f in read[1])
        shown.append(f"{term.name} [{_HOW.get(term.how, '')}{cells}]")
    scale = inputs[0].scale if len({f.scale for f in inputs}) == 1 else 1.0
    value = evaluate(expression, [v / scale for v in values])  # in the statements' printed units
    if value is None:
        return None
    text = expression
    for index in reversed(range(len(named))):
        text = text.replace(f"v{index}", shown[index])
    return FactFormula(value, " ".join(text.replace("( ", "(").replace(" )", ")").split()), tuple(inputs))
