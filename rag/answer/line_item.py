"""A standard line item's value for one period of one filing, read from its statement facts:
the (company, period, metric) question whose metric is a line item ("the year end FY2019
inventories", "FY2021 capital expenditure in USD billions").

The cell route searches table rows by words and reads the best one; on a 10-K of 100 pages it
reaches a segment table, the selected-data page or the cash-flow statement's change in the line
("Merchandise inventories (194)") as often as the balance sheet. The facts hold each statement
line per period column, so the item is looked up by its standard name and the fiscal year: a
level (inventories) from the balance sheet, a flow (revenue, capex) from the income or
cash-flow statement for the full year, or the filing's own quarter in a 10-Q. Only one value
for the period is an answer; the caller cites the printed row (the second reading), and the
value is shown in the unit the question asks for when it names one.

Pure: facts and a card in, a value with its fact out.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rag.answer.confirm import period_facts
from rag.answer.fact_formulas import year_facts, year_offset
from rag.ingest.cards import DocumentCard
from rag.ingest.facts import Fact
from rag.ingest.line_items import BALANCE_ITEMS

# Outflows a statement prints in parentheses that a person states as an amount spent or paid
OUTFLOWS = {"capital expenditure", "dividends paid"}
_SCALE_WORDS = {1e9: "billion", 1e6: "million", 1e3: "thousand"}
_STATEMENT_NAMES = {"income": "income statement", "balance": "balance sheet", "cash flow": "cash-flow statement"}


@dataclass(frozen=True)
class LineItemValue:
    shown: str  # "$5,409 million (February 2, 2019)": the amount and the period column as printed
    fact: Fact

    def where(self) -> str:
        """"Merchandise inventories in the balance sheet, page 51"."""
        page = f", page {self.fact.page}" if self.fact.page else ""
        return f"{self.fact.label} in the {_STATEMENT_NAMES.get(self.fact.statement, 'statements')}{page}"


def asked_scale(question: str) -> float | None:
    """The unit a question asks its amount in: "(in USD millions)", "in millions", "in $ billions"
    (None when it names none).

    >>> asked_scale("What is the FY2021 capex (in USD billions) for PepsiCo?"), asked_scale("Answer in USD millions.")
    (1000000000.0, 1000000.0)
    >>> asked_scale("How many employees does it have?") is None
    True
    """
    found = re.search(r"\bin\s+(?:(?:usd|us\s*\$|\$|dollars?)\s+)?(thousands|millions|billions)\b", question, re.IGNORECASE)
    return {"thousands": 1e3, "millions": 1e6, "billions": 1e9}[found.group(1).lower()] if found else None


def value_of(item: str, facts: list[Fact], card: DocumentCard | None, years: tuple[int, ...],
             scale: float | None, months: int = 3, wording: str = "") -> LineItemValue | None:
    """The item's one value for the asked fiscal year (else the filing's own period), or None
    when the statements give none or two. In a 10-Q a flow covers `months` (the quarter's three,
    or six for a first half asked of a second quarter's filing). When two printed rows of the item
    of one statement differ (Walmart's "Net sales" 151,004 and "Total revenues" 152,301), the row
    the question's `wording` names by its printed label is the one asked; else neither is chosen.

    >>> f = lambda st, end, v: Fact("bby.pdf", 51, st, "", "Merchandise inventories", "inventories", end, end, None, v, 1e6, "USD", f"{v:,.0f}")
    >>> card = DocumentCard(kind="10-K", fiscal_year=2019, period_end="2019-02-02")
    >>> value_of("inventories", [f("balance", "2019-02-02", 5409.0), f("cash flow", "2019-02-02", -194.0)], card, (2019,), 1e6).shown
    '$5,409 million (2019-02-02)'
    >>> value_of("inventories", [f("balance", "2018-02-03", 5209.0)], card, (2019,), None) is None
    True
    >>> ni = Fact("amzn.pdf", 38, "income", "", "Net income", "net income", "December 31, 2019", "2019-12-31", 12, 11588.0, 1e6, "USD", "$ 11,588")
    >>> value_of("net income attributable", [ni], None, (2019,), 1e6).shown  # no noncontrolling interests: all attributable
    '$11,588 million (December 31, 2019)'
    >>> q2 = DocumentCard(kind="10-Q", fiscal_year=2023, quarter=2, period_end="2023-06-02")
    >>> ytd = Fact("adbe.pdf", 8, "cash flow", "", "Net income", "net income", "June 2, 2023", "2023-06-02", 6, 2542.0, 1e6, "USD", "$2,542")
    >>> value_of("net income", [ytd], q2, (), None) is None  # six months, not the quarter
    True
    >>> value_of("net income", [ytd], q2, (), None, months=6).shown  # "H1 FY2023"
    '$2,542 million (June 2, 2023)'
    >>> rev = lambda label, v: Fact("wmt.pdf", 3, "income", "", label, "revenue", "2023", "2023", 3, v, 1e6, "USD", f"{v:,.0f}")
    >>> q1 = DocumentCard(kind="10-Q", fiscal_year=2024, quarter=1, period_end="2023-04-30")
    >>> both = [rev("Net sales", 151004.0), rev("Total revenues", 152301.0)]
    >>> value_of("revenue", both, q1, (2024,), 1e6) is None, value_of("revenue", both, q1, (2024,), 1e6, wording="Walmart's total revenues?").shown
    (True, '$152,301 million (2023)')
    """
    if len(years) > 1:
        return None
    if item == "net income attributable" and not any(f.item == item or "noncontrolling" in f.label.lower() for f in facts):
        item = "net income"  # with no noncontrolling interests reported, all of it is the shareholders'
    if card is not None and card.quarter is not None:
        chosen = period_facts(facts, item, card) if not years or years[0] == card.fiscal_year else []
        # a flow is the quarter's three months, never the year-to-date column that ends on the same day
        chosen = [f for f in chosen if item in BALANCE_ITEMS or f.months == months]
    else:
        year = years[0] if years else card.fiscal_year if card is not None else None
        chosen = year_facts(facts, item, year, year_offset(card)) if year is not None else []
    if len({f.value * f.scale for f in chosen}) > 1 and wording and len({(f.page, f.title) for f in chosen}) == 1:
        # two lines of one statement, told apart by the name the question gives; the same caption
        # in another table (a segment's, a VIE's) is no reading of the question's words
        named = [f for f in chosen if _printed_label_named(f.label, wording)]
        chosen = named if len({f.value * f.scale for f in named}) == 1 else chosen
    if len({f.value * f.scale for f in chosen}) != 1:
        return None
    return LineItemValue(f"{shown_amount(chosen[0], scale, outflow=item in OUTFLOWS)} ({chosen[0].period})", chosen[0])


def _printed_label_named(label: str, wording: str) -> bool:
    """Whether the question's words hold the row's printed label as a phrase ("total revenues"
    in "What were Walmart's total revenues ...?"), case, punctuation and footnote marks aside
    (JPMorgan's consolidated "Total assets(a)" is named as much as its VIEs' "Total assets").

    >>> _printed_label_named("Total assets(a)", "JPM's total assets?"), _printed_label_named("Net sales", "total revenues")
    (True, False)
    """
    words = lambda text: " ".join(re.findall(r"[a-z0-9]+", text.lower()))  # noqa: E731
    phrase = words(re.sub(r"\s*\((?:[a-z]|\d{1,2})\)|\*+", " ", label))
    return bool(phrase) and f" {phrase} " in f" {words(wording)} "


def shown_amount(fact: Fact, scale: float | None, outflow: bool = False) -> str:
    """The fact's value in the asked unit (else its printed one), keeping the printed digits:
    4,625 million in billions is "$4.625 billion", 5,466,312 thousand in millions "$5,466.312 million".

    >>> f = Fact("p.pdf", 63, "cash flow", "", "Capital spending", "capital expenditure", "2021", "2021", 12, -4625.0, 1e6, "USD", "(4,625)")
    >>> shown_amount(f, 1e9, outflow=True), shown_amount(f, None)
    ('$4.625 billion', '-$4,625 million')
    >>> shown_amount(Fact("u.pdf", 3, "income", "", "Net sales", "revenue", "April 29, 2023", "2023-04-29", 3, 2634.3, 1e6, "USD", "$2,634.3"), 1e6)
    '$2,634.3 million'

    """
    value = abs(fact.value) if outflow else fact.value
    if fact.unit != "USD":
        return f"{value:,.2f}".rstrip("0").rstrip(".") + (f" {fact.unit}" if fact.unit else "")
    target = scale if scale and fact.scale else fact.scale
    amount = value * fact.scale / target
    printed = re.search(r"\.(\d+)", fact.text)
    decimals = (len(printed.group(1)) if printed else 0) + (max(0, round(math.log10(target / fact.scale))) if fact.scale else 0)
    text = f"{abs(amount):,.{decimals}f}"
    word = _SCALE_WORDS.get(target, "")
    return f"{'-' if amount < 0 else ''}${text}{' ' + word if word else ''}"
