"""The second route a number must pass: a value read from a table cell (or the model's number)
is shown only when the document's statement facts, chosen by the question's standard line item
and the document's own period, give the same value (`ingest.facts`, read at indexing by another
reader than the cell route's ranking of rows).

    agree        the facts give the value: it may be shown
    disagree     the facts give another value: refused, both values named
    unconfirmed  the document has statement facts but none for this item and period: refused
    ""           not a filing (no statement facts): the check does not apply

Pure: facts and values in, a `Confirmation` out.
"""
from __future__ import annotations

from dataclasses import dataclass

import re

from rag.ingest.cards import DocumentCard
from rag.ingest.facts import Fact
from rag.ingest.line_items import home_statements, normalised_label
from rag.ingest.tables import parse_number


@dataclass(frozen=True)
class Confirmation:
    agreement: str  # "agree", "disagree", "unconfirmed" or "" (see the module's docstring)
    fact: Fact | None = None  # the fact route's value, when it gave one

    def reason(self, found: str, where: str) -> str:
        """Why a number is not shown, in words: "found 5,409 in the balance sheet, but …"."""
        if self.agreement == "disagree" and self.fact is not None:
            return (f"found {found} in {where}, but the {self.fact.statement} statement's {self.fact.label} for "
                    f"{self.fact.period} is {self.fact.text}: the two readings disagree")
        return f"found {found} in {where}, but could not confirm it in the filing's statements"


def fact_reading(fact: Fact) -> str:
    """The facts route's reading as `--json` lists it under `candidates`: "$2,542 (Net income, June 2, 2023, page 8)"."""
    return f"{fact.text} ({fact.label}, {fact.period}, page {fact.page})"


def period_facts(facts: list[Fact], item: str, card: DocumentCard | None, label: str = "") -> list[Fact]:
    """The statement facts of a line item for the document's own period: the column that ends
    on its period end (else in its year), a quarter's three months for a quarterly report, from
    the item's own statement when it has rows there (`line_items.home_statements`). With
    no standard `item`, the facts of the row printed `label` (in any table of the filing).

    >>> f = lambda end, months, value: Fact("q.pdf", 3, "income", "", "Revenue", "revenue", end, end, months, value, 1e6, "USD", str(value))
    >>> card = DocumentCard(kind="10-Q", fiscal_year=2024, quarter=1, period_end="2023-04-30")
    >>> [x.value for x in period_facts([f("2023-04-30", 3, 10.0), f("2022-04-30", 3, 9.0), f("2023", 6, 20.0)], "revenue", card)]
    [10.0]
    >>> [x.value for x in period_facts([f("2023-04-30", 3, 10.0)], "", card, label="REVENUE")]
    [10.0]
    """
    if item:
        held = [f for f in facts if f.item == item and f.statement]
        held = [f for f in held if f.statement in home_statements(item)] or held
    else:
        held = [f for f in facts if label and normalised_label(f.label) == normalised_label(label)]
    if card is None or not held:
        return held
    end = card.period_end
    for wanted in (lambda f: f.period_end == end, lambda f: bool(end) and f.period_end == end[:4],
                   lambda f: not end and card.fiscal_year is not None and f.period_end == str(card.fiscal_year)):
        chosen = [f for f in held if wanted(f)]
        if chosen:
            if card.quarter is not None:
                chosen = [f for f in chosen if f.months in (3, None)] or chosen
            return chosen
    return []


def confirm(value: float, item: str, facts: list[Fact], card: DocumentCard | None, label: str = "") -> Confirmation:
    """Whether the document's statements give `value` (as printed) for the item and its period
    (with no standard item, for the row printed `label`: then the row is the cell's own and the
    check is of the period column the two readers chose).

    >>> f = Fact("q.pdf", 3, "income", "", "Total revenues", "revenue", "2023", "2023", 3, 152301.0, 1e6, "USD", "152,301")
    >>> confirm(152301.0, "revenue", [f], None).agreement, confirm(151004.0, "revenue", [f], None).agreement
    ('agree', 'disagree')
    >>> confirm(5.0, "", [f], None).agreement, confirm(5.0, "revenue", [], None).agreement
    ('unconfirmed', '')
    """
    if not any(f.statement for f in facts):
        return Confirmation("")
    chosen = period_facts(facts, item, card, label) if item or label else []
    if not chosen:
        return Confirmation("unconfirmed")
    same = [f for f in chosen if abs(f.value - value) <= 0.5e-3 * max(abs(value), 1.0)]
    if same:
        return Confirmation("agree", same[0])
    values = {f.value for f in chosen}
    return Confirmation("disagree" if len(values) == 1 else "unconfirmed", chosen[0] if len(values) == 1 else None)


def _numbers(text: str) -> list[float]:
    return [v for v in (parse_number(t.rstrip(".,;")) for t in re.findall(r"\(?\$?\s?\d[\d,]*(?:\.\d+)?\)?%?", text))
            if v is not None]


def confirm_on_page(text: str, asked_terms: frozenset[str], facts: list[Fact], page: int | None, terms) -> Confirmation:
    """The second route for a number the question names no standard line item for: "agree" when a
    number the answer states is a cell of a table row on the cited page whose printed label shares
    a word with the question (the table reader's cell, read at indexing, against the model's
    number); "unconfirmed" in a filing (statement facts held) when none is; "" elsewhere.
    `terms` is the index's term function (`index.lexical.terms`).

    >>> f = Fact("q.pdf", 7, "", "", "Number of stores", "", "2023", "2023", None, 1003.0, 1.0, "", "1,003")
    >>> g = Fact("q.pdf", 3, "income", "", "Revenue", "revenue", "2023", "2023", 3, 9583.0, 1e6, "USD", "9,583")
    >>> words = lambda text: {w.lower().rstrip("s") for w in text.split()}
    >>> confirm_on_page("It had 1,003 stores.", frozenset({"store"}), [f, g], 7, words).agreement
    'agree'
    >>> confirm_on_page("It had 1,003 stores.", frozenset({"store"}), [f, g], 8, words).agreement
    'unconfirmed'
    """
    if not any(f.statement for f in facts):
        return Confirmation("")
    for value in _numbers(text):
        for fact in facts:
            if fact.page == page and abs(abs(fact.value) - abs(value)) <= 0.5e-3 * max(abs(value), 1.0) \
                    and set(terms(fact.label)) & set(asked_terms):
                return Confirmation("agree", fact)
    return Confirmation("unconfirmed")


def confirm_text(text: str, item: str, facts: list[Fact], card: DocumentCard | None) -> Confirmation:
    """The statement facts' word on a text answer to a value question: "agree" when a number it
    states is the fact route's value, else as `confirm` says of its first number.

    >>> f = Fact("q.pdf", 3, "income", "", "Total revenues", "revenue", "2023", "2023", 3, 152301.0, 1e6, "USD", "152,301")
    >>> confirm_text("Total revenues were $152,301 million, up from 141,569.", "revenue", [f], None).agreement
    'agree'
    >>> confirm_text("Total cost of revenue — Three Months Ended: 572", "revenue", [f], None).agreement
    'disagree'
    """
    numbers = _numbers(text)
    if not numbers:
        return Confirmation("unconfirmed" if item and any(f.statement for f in facts) else "")
    checked = [confirm(abs(v), item, facts, card) for v in numbers] + [confirm(v, item, facts, card) for v in numbers]
    agreed = next((c for c in checked if c.agreement == "agree"), None)
    return agreed or checked[0]
