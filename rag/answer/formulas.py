"""Arithmetic a question asks for, done by code from cited cells, never by the model: a formula the
question defines ("ROA is defined as: FY2017 net income / (average total assets between FY2016 and
FY2017)") or one a common measure implies (a growth rate, a margin), read term by term from the
table rows (`cells.read_cell`), evaluated safely, and shown with its inputs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from rag.answer.cells import CellAnswer, Row, Similarity, Terms, read_cell

_DEFINED = re.compile(r"\b(?:is\s+)?defined\s+as\s*:?\s*(.+?)(?:\.\s|\?|\.$|$)|\bdefine\s+[^.?]{1,60}?\s+as\s+(.+?)(?:\.\s|\?|\.$|$)",
                      re.IGNORECASE)
_WORD_OPERATORS = [(r"\bdivided by\b", "/"), (r"\bmultiplied by\b|\btimes\b", "*"), (r"\bplus\b", "+"),
                   (r"\bminus\b|\bless\b", "-")]
_TOKEN = re.compile(r"\s*([()*/+]|(?<![A-Za-z&])-(?![A-Za-z&])|\b\d+(?:\.\d+)?\b(?![\w-])|[^()*/+]+?(?=\s*(?:[()*/+]|"
                    r"(?<![A-Za-z&])-(?![A-Za-z&])|$)))")
_FY = r"(?:FY\s*'?|fiscal(?:\s+year)?\s+)?((?:19|20)\d{2})"


@dataclass(frozen=True)
class Term:
    """A quantity a formula names: a line item, for one year, or averaged or changed between two.

    >>> Term.read("average PP&E between FY2018 and FY2019"), Term.read("FY2019 revenue")
    (Term(name='PP&E', years=(2018, 2019), how='average'), Term(name='revenue', years=(2019,), how='value'))
    """

    name: str
    years: tuple[int, ...] = ()
    how: str = "value"  # "value", "average" (of the years) or "change" (last minus first)

    @classmethod
    def read(cls, text: str) -> "Term":
        text = " ".join(text.split()).strip(" ,;:")
        found = re.match(rf"^(average|change in)\s+(.+?)\s+between\s+{_FY}\s+and\s+{_FY}$", text, re.IGNORECASE)
        if found:
            how = "average" if found.group(1).lower() == "average" else "change"
            return cls(found.group(2).strip(), (int(found.group(3)), int(found.group(4))), how)
        found = re.match(rf"^(?:year[- ]end\s+)?{_FY}\s+(.+)$", text, re.IGNORECASE)
        if found:
            return cls(found.group(2).strip(), (int(found.group(1)),))
        return cls(text)


_GROWTH = re.compile(rf"{_FY}\s*(?:-|–|to|and)\s*{_FY}\s+(?:(?:3|three|2|two)[- ]year\s+)?(.+?)\s+"
                     rf"(?:growth(?: rate)?|%\s*change|percent(?:age)? change)\b", re.IGNORECASE)
_YEAR_OVER_YEAR = re.compile(rf"\byear[- ]over[- ]year\s+(?:change|growth)\s+in\s+(.+?)\s+from\s+{_FY}\s+to\s+{_FY}",
                             re.IGNORECASE)
_CAGR = re.compile(rf"\b(?:\d|two|three|four|five)[- ]year\s+(.+?)\s+(?:CAGR|compound annual growth rate)\s+"
                   rf"(?:from|between)\s+{_FY}\s+(?:to|and)\s+{_FY}", re.IGNORECASE)
_MARGIN = re.compile(rf"{_FY}\s+(?:unadjusted\s+)?(.+?)\s*%?\s*margin\b", re.IGNORECASE)
_MARGIN_OF = {"gross": "gross profit", "operating": "operating income", "net": "net income", "ebit": "operating income",
              "net profit": "net income", "operating profit": "operating income"}


def defines(question: str) -> bool:
    """Whether the question defines its own formula ("… is defined as: …")."""
    return bool(_DEFINED.search(question))


def asks_beyond_definition(question: str) -> bool:
    """Whether the question asks for more than the quantity it defines: "What is the FY2022
    unadjusted EBITDA less capex? Define unadjusted EBITDA as ..." defines EBITDA and asks for
    EBITDA less capex, so the defined formula alone does not answer it.

    >>> asks_beyond_definition("What is the FY2022 unadjusted EBITDA less capex for PepsiCo? Define unadjusted EBITDA as "
    ...                        "unadjusted operating income + depreciation and amortization.")
    True
    >>> asks_beyond_definition("What is Adobe's FY2017 operating cash flow ratio? Operating cash flow ratio is defined as: "
    ...                        "cash from operations / total current liabilities.")
    False
    """
    named = re.search(r"\bdefine\s+(.{1,60}?)\s+as\b", question, re.IGNORECASE)
    if not named:
        return False
    name = re.escape(named.group(1).strip())
    return bool(re.search(rf"{name}\s+(?:less|minus|plus|net of|after|before|divided|over|per|to|as a|%|margin|ratio)\b",
                          question[:named.start()], re.IGNORECASE))


def implied_definition(question: str) -> str:
    """The definition a common measure implies when the question gives none: a growth rate between
    two years, a margin of one year.

    >>> implied_definition("What is the FY2019 - FY2020 total revenue growth rate for Block?")
    'defined as: (FY2020 total revenue - FY2019 total revenue) / (FY2019 total revenue) * 100'
    >>> implied_definition("What is Amazon's year-over-year change in revenue from FY2016 to FY2017 (in percents)?")
    'defined as: (FY2017 revenue - FY2016 revenue) / (FY2016 revenue) * 100'
    >>> implied_definition("What is Lockheed Martin's 2 year total revenue CAGR from FY2020 to FY2022?")
    'defined as: ((FY2022 total revenue / FY2020 total revenue) ** (1 / 2) - 1) * 100'
    >>> implied_definition("What is Nike's FY2022 gross margin?")
    'defined as: FY2022 gross profit / FY2022 revenue * 100'
    """
    found = _YEAR_OVER_YEAR.search(question)
    if found:
        metric, first, last = found.group(1).strip(), found.group(2), found.group(3)
        return f"defined as: (FY{last} {metric} - FY{first} {metric}) / (FY{first} {metric}) * 100"
    found = _CAGR.search(question)
    if found:
        metric, first, last = found.group(1).strip(), int(found.group(2)), int(found.group(3))
        return f"defined as: ((FY{last} {metric} / FY{first} {metric}) ** (1 / {last - first}) - 1) * 100"
    found = _GROWTH.search(question)
    if found:
        first, last, metric = found.group(1), found.group(2), found.group(3)
        return f"defined as: (FY{last} {metric} - FY{first} {metric}) / (FY{first} {metric}) * 100"
    found = _MARGIN.search(question)
    if found and "average" not in question.lower():
        year, measure = found.group(1), found.group(2).strip().lower()
        measure = _MARGIN_OF.get(measure, measure)
        return f"defined as: FY{year} {measure} / FY{year} revenue * 100"
    return ""


def formula_of(question: str) -> tuple[str, list[Term]] | None:
    """A formula the question defines, as an expression over v0, v1, ... and its terms.

    >>> expression, terms = formula_of("ROA is defined as: FY2017 net income / (average total assets between "
    ...                                 "FY2016 and FY2017). Round it.")
    >>> expression, [t.name for t in terms]
    ('v0 / ( v1 )', ['net income', 'total assets'])
    >>> formula_of("Define working capital ratio as total current assets divided by total current liabilities.")[0]
    'v0 / v1'
    >>> formula_of("DPO is defined as: 365 * (average accounts payable between FY2019 and FY2020) / (FY2020 COGS)")[0]
    '365 * ( v0 ) / ( v1 )'
    """
    found = _DEFINED.search(question) or _DEFINED.search(implied_definition(question))
    if not found:
        return None
    body = found.group(1) or found.group(2)
    for pattern, symbol in _WORD_OPERATORS:
        body = re.sub(pattern, f" {symbol} ", body, flags=re.IGNORECASE)
    parts, terms = [], []
    for token in (t.strip() for t in _TOKEN.findall(body)):
        if not token:
            continue
        if token in "()*/+-" or re.fullmatch(r"\d+(?:\.\d+)?", token):
            parts.append(token)
        else:
            parts.append(f"v{len(terms)}")
            terms.append(Term.read(token))
    if not terms or len(terms) > 6 or len(terms) == 1 and not any(p in "*/+-" for p in parts):
        return None
    return " ".join(parts).replace("* *", "**"), terms


def evaluate(expression: str, values: list[float]) -> float | None:
    """The expression's value, by Python's own parser, over +, -, *, /, ** and numbers only.

    >>> evaluate("365 * ( v0 ) / ( v1 + v2 )", [10.0, 3.0, 2.0]), evaluate("( v0 / v1 ) ** ( 1 / 2 ) - 1", [4.0, 1.0])
    (730.0, 1.0)
    """
    import ast
    import operator as op

    apply = {ast.Add: op.add, ast.Sub: op.sub, ast.Mult: op.mul, ast.Div: op.truediv, ast.Pow: op.pow}

    def walk(node):
        if isinstance(node, ast.BinOp) and type(node.op) in apply:
            return apply[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name) and re.fullmatch(r"v\d+", node.id):
            return values[int(node.id[1:])]
        raise ValueError(ast.dump(node))

    try:
        return walk(ast.parse(expression, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, IndexError):
        return None


Place = Callable[[Row, tuple], tuple]  # (row, fiscal years) -> the calendar years its headers use


def read_term(term: Term, rows: list[Row], similarity: Similarity, terms: Terms, place: Place,
              asked: tuple[int, ...], quarter: int | None, threshold: float) -> tuple[float, list[CellAnswer]] | None:
    """A term's value from its cells, as a magnitude (statements show outflows in parentheses; a
    question's "capex" is the amount spent), with the cells read: one per year of the term, or
    the question's years when the term names none."""
    found = []
    for years in ([(y,) for y in term.years] or [asked]):
        cell = read_cell(term.name, rows, similarity, terms, lambda row, ys=years: place(row, ys), quarter, threshold)
        if cell is None or cell.value is None:
            return None
        found.append(cell)
    values = [abs(c.value) for c in found]
    if term.how == "average":
        return sum(values) / len(values), found
    if term.how == "change":
        return values[-1] - values[0], found
    return values[0], found


def read_formula(parsed: tuple[str, list[Term]] | None, rows: list[Row], similarity: Similarity, terms: Terms,
                 place: Place, asked: tuple[int, ...], quarter: int | None, threshold: float) -> CellAnswer | None:
    """A quantity the question defines by a formula (`formula_of`'s reading of it), computed from
    cited cells: each term read for its own year (or the question's), averaged or differenced as
    the formula says."""
    if parsed is None:
        return None
    expression, named = parsed
    values, cells = [], []
    for term in named:
        read = read_term(term, rows, similarity, terms, place, asked, quarter, threshold)
        if read is None:
            return None
        values.append(read[0])
        cells.extend(read[1])
    value = evaluate(expression, values)
    if value is None:
        return None
    shown = expression
    for index in reversed(range(len(named))):
        inputs = ", ".join(c.short for c in cells_of(named, cells, index))
        label = {"average": "average of ", "change": "change, "}.get(named[index].how, "")
        shown = shown.replace(f"v{index}", f"{named[index].name} [{label}{inputs}]")
    return CellAnswer(f"{value:,.2f}", value, tuple(dict.fromkeys(c.rows[0] for c in cells)),
                      tuple(h for c in cells for h in c.headers), min(c.score for c in cells), f"{shown} = {value:,.2f}")


def cells_of(named: list[Term], cells: list[CellAnswer], index: int) -> list[CellAnswer]:
    """The cells read for the index-th term (terms of two years read two)."""
    start = sum(max(len(t.years), 1) for t in named[:index])
    return cells[start:start + max(len(named[index].years), 1)]
