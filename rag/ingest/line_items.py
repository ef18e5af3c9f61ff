"""The standard line items of financial statements and the captions filings print for each
(`line_items.json`): what a printed row is ("Net sales" is revenue) and what a question asks for
("What were total revenues ..." asks for revenue). Kept as data, one file, a test per caption.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

LINE_ITEMS_FILE = Path(__file__).with_name("line_items.json")

# Line items that are levels at a date (the balance sheet's), not flows over a period: their
# change in the cash-flow statement ("Merchandise inventories (194)") is not their value.
BALANCE_ITEMS = {"cash and equivalents", "accounts receivable", "inventories", "total current assets",
                 "property plant and equipment", "total assets", "accounts payable", "total current liabilities",
                 "long-term debt", "total liabilities", "shareholders equity"}


def home_statements(item: str) -> tuple[str, ...]:
    """The statements whose rows give a line item's value: the balance sheet for a level, the
    income and cash-flow statements for a flow."""
    return ("balance",) if item in BALANCE_ITEMS else ("income", "cash flow")


@lru_cache(maxsize=1)
def line_items() -> dict[str, str]:
    """Printed caption (normalised) -> standard line item, from line_items.json."""
    data = json.loads(LINE_ITEMS_FILE.read_text(encoding="utf-8"))
    return {caption: item for item, captions in data.items() if not item.startswith("_") for caption in captions}


@lru_cache(maxsize=1)
def not_standard() -> tuple[str, ...]:
    """Captions that hold a standard one but name another line item ("deferred revenue" is a
    liability, not revenue), from line_items.json's "_not_standard"."""
    return tuple(json.loads(LINE_ITEMS_FILE.read_text(encoding="utf-8")).get("_not_standard", ()))


def asked_item(question: str) -> str:
    """The standard line item a question asks for, by its longest caption or name in the
    question ("" when none): "What were total revenues ..." -> revenue.

    >>> asked_item("What were Walmart's total revenues in Q1 FY2024?"), asked_item("What is its capex?")
    ('revenue', 'capital expenditure')
    >>> asked_item("What drove the change in gross margin?"), asked_item("Who is the CEO?")
    ('gross profit', '')
    >>> asked_item("What was Best Buy's deferred revenue at the end of Q2?")
    ''
    """
    return _asked(question)[1]


def names_line_item(question: str) -> bool:
    """Whether the question names a line item a filing prints, standard or not ("deferred revenue").

    >>> names_line_item("What was the deferred revenue at the end of Q2?"), names_line_item("Who is the CEO?")
    (True, False)
    """
    return bool(_asked(question)[0])


def _asked(question: str) -> tuple[str, str]:
    """The longest caption or name in the question, and its standard item ("" for a caption
    that names another line item: "deferred revenue" is not revenue)."""
    text = f" {normalised_label(question)} "
    names = dict(line_items())
    names.update({normalised_label(item): item for item in set(line_items().values())})
    names.update(_ANALYST_TERMS)
    names.update({caption: "" for caption in not_standard()})
    found = [(len(name), name, item) for name, item in names.items() if f" {name} " in text]
    return max(found)[1:] if found else ("", "")


# The names analysts give standard line items, beside the captions filings print.
_ANALYST_TERMS = {"capex": "capital expenditure", "capital expenditures": "capital expenditure",
                  "capital expenditure": "capital expenditure", "cogs": "cost of revenue",
                  "operating cash flow": "cash from operations", "cash from operations": "cash from operations",
                  "cash flow from operations": "cash from operations", "ppe": "property plant and equipment",
                  "ppne": "property plant and equipment", "pp and e": "property plant and equipment", "eps": "eps diluted", "d and a": "depreciation and amortization",
                  "sg and a": "selling general and administrative", "r and d": "research and development",
                  "net profit": "net income", "top line": "revenue", "accounts receivables": "accounts receivable"}


def normalised_label(label: str) -> str:
    """A caption as line_items.json writes it: lower case, '&' as 'and', no footnote marks
    ("(a)", "(1)") or punctuation.

    >>> normalised_label("Receivables, net(a)"), normalised_label("Selling, general & administrative expenses")
    ('receivables net', 'selling general and administrative expenses')
    """
    label = re.sub(r"\((?:[a-z]|\d{1,2})\)", " ", label.replace("&", " and "))
    label = re.sub(r"[^a-z0-9]+", " ", label.lower().replace("’", "").replace("'", ""))
    return " ".join(label.split())


def standard_item(label: str) -> str:
    """The standard line item a printed caption is, or "".

    >>> standard_item("Total revenues"), standard_item("Net sales"), standard_item("Net cash provided by operating activities")
    ('revenue', 'revenue', 'cash from operations')
    >>> standard_item("Revenue from Hawaii")
    ''
    """
    return line_items().get(normalised_label(label), "")
