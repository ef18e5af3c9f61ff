"""Answers from table cells: "what was X in FY2018" read off the row that holds X, in the column
of the period asked; arithmetic a question asks for is done from cited cells in `formulas.py`, never by the model.

The readers write each table row with its title and column headers (`rag.ingest.tables`):

    Consolidated Statement of Cash Flows (Millions) — Purchases of PP&E — 2018: (1,577); 2017: (1,373)

so a row found by retrieval carries everything a number needs: what it is, its unit, its
period. Pure: rows come from passage texts, and the similarity of a question to a row's title
and label is passed in (`Similarity`: the embedder's cosine in production).

Row score = 0.5 * cos(question, title — label) + 0.5 * label match (+ 0.05 for a consolidated
statement's row). The question is its asking sentence without instructions (`core_question`); the
label match is the larger of the share of the label's terms the question holds and the label's
Jaccard overlap with a statement caption of an accounting term the question uses ("capex" is
"purchases of property, plant and equipment"; "COGS" is "cost of revenue", which must not make
the "Revenue" row a match).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from rag.ingest.tables import ROW_SEPARATOR, parse_number, units_of

Similarity = Callable[[str, list[str]], list[float]]
Terms = Callable[[str], set[str]]

# Accounting names a question and a statement use for the same line (US GAAP statement captions):
# each abbreviation or analyst's term, with the captions a statement gives it.
_CAPEX = ["purchases of property plant and equipment", "additions to property and equipment", "capital expenditures",
          "payments for property and equipment"]
_REVENUE = ["net sales", "total revenues", "net revenues", "total net sales"]
SYNONYMS = {
    "capital expenditure": _CAPEX,
    "capex": _CAPEX,
    "revenue": _REVENUE,
    "revenues": _REVENUE,
    "net income": ["net earnings", "net income attributable"],
    "net earnings": ["net income"],
    "cogs": ["cost of sales", "cost of goods sold", "cost of revenue", "total cost of revenue"],
    "cost of goods sold": ["cost of sales", "cost of revenue"],
    "operating income": ["operating profit", "income from operations"],
    "operating profit": ["operating income", "income from operations"],
    "accounts receivable": ["receivables net", "trade receivables", "accounts receivable net"],
    "ar": ["accounts receivable net", "receivables net"],
    "accounts payable": ["trade payables", "accounts payable"],
    "inventory": ["inventories"],
    "cash from operations": ["net cash provided by operating activities"],
    "operating cash flow": ["net cash provided by operating activities"],
    "cash flow from operating activities": ["net cash provided by operating activities"],
    "dividends": ["cash dividends paid", "dividends paid"],
    "eps": ["diluted earnings per share", "earnings per share diluted"],
    "d&a": ["depreciation and amortization"],
    "pp&e": ["property plant and equipment net"],
    "ppne": ["property plant and equipment net"],
    "ppe": ["property plant and equipment net"],
    "sg&a": ["selling general and administrative expenses"],
    "r&d": ["research and development"],
    "shareholders equity": ["total shareholders equity", "total stockholders equity"],
}
# A company's own statements before a segment's or a note's table with the same line name:
# "Net sales" of the consolidated statement of income, not of one segment.
_STATEMENT = re.compile(r"consolidated|statements? of (?:income|operations|earnings|cash flows?|financial position)"
                        r"|balance sheets?|summary of financial results", re.IGNORECASE)
STATEMENT_BONUS = 0.05
_PAIR = re.compile(r"^(.*?):\s*(.+)$")
_QUARTER_WORDS = re.compile(r"three months|13 weeks|quarter|thirteen weeks", re.IGNORECASE)
_LONGER_WORDS = re.compile(r"six months|nine months|26 weeks|39 weeks|year|twelve months|52 weeks", re.IGNORECASE)


@dataclass(frozen=True)
class Row:
    """One table row as the readers write it: title, label and (header, value) pairs."""

    title: str
    label: str
    cells: tuple[tuple[str, str], ...]
    passage: int  # its passage's number in the prompt, from 1
    line: str  # the row as written in the passage (the quote)


@dataclass(frozen=True)
class CellAnswer:
    """A value read from a cited cell (or computed from several), with what it is."""

    short: str  # "$1,577 million (2018)"
    value: float
    rows: tuple[Row, ...]
    headers: tuple[str, ...]
    score: float
    formula: str = ""  # "cash from operations / total current liabilities = 6,439 / 3,044 = 2.12"


def parse_rows(text: str, passage: int) -> list[Row]:
    """The table rows written with headers in a passage's text.

    >>> parse_rows("Sales (in millions) — iPhone — July 1, 2023: $39,669; June 25, 2022: $40,665", 1)[0].cells
    (('July 1, 2023', '$39,669'), ('June 25, 2022', '$40,665'))
    """
    rows = []
    for line in text.split("\n"):
        parts = line.split(ROW_SEPARATOR)
        if len(parts) < 2:
            continue
        title, label, pairs = (parts[0], ROW_SEPARATOR.join(parts[1:-1]), parts[-1]) if len(parts) >= 3 else (
            "", parts[0], parts[1])
        cells = []
        for pair in pairs.split("; "):
            found = _PAIR.match(pair.strip())
            header, value = (found.group(1), found.group(2)) if found else ("", pair.strip())
            if parse_number(value) is not None:
                cells.append((header.strip(), value.strip()))
        if cells:
            rows.append(Row(title.strip(), label.strip(), tuple(cells), passage, line))
    return rows


def core_question(question: str) -> str:
    """The question itself, without the instructions around it: its first sentence that asks,
    after any lead-in that ends in a colon.

    >>> core_question("Assume you are an analyst. Using the balance sheet: what is the FY2018 net PPNE for 3M? "
    ...               "Answer in USD billions.")
    'what is the FY2018 net PPNE for 3M?'
    """
    found = re.search(r"[^.?!]*\?", question)
    sentence = found.group().strip() if found else question.strip()
    return sentence.rsplit(": ", 1)[-1].strip()


def captions(question: str) -> list[str]:
    """The statement captions of the accounting terms a question uses.

    >>> captions("What is the FY2016 COGS?")[:2]
    ['cost of sales', 'cost of goods sold']
    """
    lowered = question.lower()
    return [c for k, v in SYNONYMS.items() if re.search(rf"(?<![\w&]){re.escape(k)}(?![\w&])", lowered) for c in v]


def expand(question: str) -> str:
    """The question with the statement captions of the accounting terms it uses (to search by).

    >>> expand("What is the FY2018 capex?")[:75]
    'What is the FY2018 capex? purchases of property plant and equipment additio'
    """
    return " ".join([question] + captions(question))


def _coverage(label_terms: set[str], question_terms: set[str]) -> float:
    return len(label_terms & question_terms) / len(label_terms) if label_terms else 0.0


def _jaccard(one: set[str], other: set[str]) -> float:
    return len(one & other) / len(one | other) if one or other else 0.0


def column_for(cells: tuple[tuple[str, str], ...], years: tuple[int, ...], quarter: int | None) -> int | None:
    """The cell of the period asked: a header naming the latest year asked (a quarter's column
    when a quarter is asked, else the longest period's); with no period asked, the first column.

    >>> cells = (("Three Months Ended 2023", "5"), ("Six Months Ended 2023", "9"), ("Three Months Ended 2022", "4"))
    >>> column_for(cells, (2023,), 2), column_for(cells, (2023,), None), column_for(cells, (2021,), None)
    (0, 1, None)
    """
    if not years:
        return 0
    year = str(max(years))
    matching = [i for i, (header, _) in enumerate(cells) if year in header or f"'{year[2:]}" in header]
    if not matching:
        return None
    if quarter is not None:
        quarterly = [i for i in matching if _QUARTER_WORDS.search(cells[i][0])]
        return (quarterly or matching)[0]
    longer = [i for i in matching if _LONGER_WORDS.search(cells[i][0]) and not _QUARTER_WORDS.search(cells[i][0])]
    return (longer or matching)[0]


def unit_words(row: Row) -> str:
    """ "million" for a table stated in millions, "" when it states no unit or the value is a rate."""
    units = units_of(row.title).lower()
    for word in ("billion", "million", "thousand"):
        if word in units:
            return word
    return ""


def describe(row: Row, column: int) -> str:
    """The cell as a short answer: value, unit and period, "$1,577 million (2018)"."""
    header, value = row.cells[column]
    unit = unit_words(row)
    shown = value if value.endswith("%") or not unit else f"{value} {unit}"
    return f"{shown} ({header})" if header else shown


def best_rows(question: str, rows: list[Row], similarity: Similarity, terms: Terms,
              core: str | None = None) -> list[tuple[float, Row]]:
    """Rows scored for the question (or a metric's words), best first; `core` is its asking
    sentence when the caller has it already (a parsed question's)."""
    if not rows:
        return []
    core = core_question(question) if core is None else core
    q_terms = terms(core)
    alternatives = [terms(c) for c in captions(core)]
    cosines = similarity(core, [f"{r.title} — {r.label}" for r in rows])

    def match(label: str) -> float:
        label_terms = terms(re.sub(r"\([^)]*\)", " ", label))  # "(PP&E)", "(current and long-term)": asides
        return max([_coverage(label_terms, q_terms)] + [_jaccard(label_terms, a) for a in alternatives])

    scored = [(0.5 * float(c) + 0.5 * match(r.label) + (STATEMENT_BONUS if _STATEMENT.search(r.title) else 0.0), r)
              for c, r in zip(cosines, rows)]
    return sorted(scored, key=lambda item: (-item[0], item[1].passage))


def read_cell(question: str, rows: list[Row], similarity: Similarity, terms: Terms, years,
              quarter: int | None, threshold: float, core: str | None = None) -> CellAnswer | None:
    """The cell that answers a "what was / how much" question, when a row scores at least
    `threshold` and holds the period asked. `years` is the calendar years to look for in the
    headers, or a function of the row that gives them (a fiscal year named as its document's card
    places it: Amcor's FY2023 Q2 column is headed "December 31, 2022")."""
    for score, row in best_rows(question, rows, similarity, terms, core)[:3]:
        if score < threshold:
            return None
        column = column_for(row.cells, years(row) if callable(years) else years, quarter)
        if column is None:
            continue
        value = parse_number(row.cells[column][1])
        return CellAnswer(describe(row, column), value, (row,), (row.cells[column][0],), score)
    return None
