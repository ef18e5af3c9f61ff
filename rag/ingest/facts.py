"""Financial statements read into facts: each cell of a statement row, with what it is.

A filing's income statement, balance sheet and cash-flow statement are written by the table
readers as rows with their title and column headers (`ingest.tables`):

    Condensed Consolidated Statements of Income (Amounts in millions) — Total revenues — 2023: 152,301; 2022: 141,569

Each cell becomes a `Fact`: the line item as printed and its standard name (`line_items.json`:
"Total revenues" and "Net sales" are both `revenue`), the period column as printed with its end
date and length when the header or title says them, the value with its sign, unit and scale, and
the page. A standard ratio is computed from facts (`answer.metrics`), and a number read from a
cited row at question time is confirmed against them.

Pure: chunks in, facts out. The facts of an index are stored beside it (`index.facts_store`).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from rag.ingest.cards import iso_date
from rag.ingest.line_items import standard_item
from rag.ingest.tables import ROW_SEPARATOR, parse_number, units_of
from rag.records import Chunk

_STATEMENTS = [("income", r"statements? of (?:consolidated )?(?:income|operations|earnings)|income statements?"),
               ("balance", r"balance sheets?|statements? of financial (?:position|condition)"),
               ("cash flow", r"statements? of cash flows?|cash flows? statements?")]
_SCALES = [(1e9, r"\bbillions?\b"), (1e6, r"\bmillions?\b"), (1e3, r"\bthousands?\b")]
_MONTHS = [(3, r"three months|13 weeks|thirteen weeks|\bquarter\b|\b[1-4]Q\d{2}\b"), (6, r"six months|26 weeks"),
           (9, r"nine months|39 weeks"), (12, r"twelve months|52 weeks|53 weeks|fiscal year|years? ended")]


_DATE = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
         r"\s+\d{1,2},\s+(?:19|20)\d{2}")


@dataclass(frozen=True)
class Fact:
    """One statement cell: what it is, for which period, how much."""

    source: str
    page: int | None
    statement: str  # "income", "balance", "cash flow", or "" for another table
    title: str  # the table's title as printed, units included
    label: str  # the line item as printed: "Total revenues"
    item: str  # its standard name ("revenue"), "" when it is none of line_items.json
    period: str  # the column header as printed: "2023", "April 30, 2023", "Three months ended June 30, 2022: 2022"
    period_end: str  # ISO date or year the column ends, "" when the header gives none
    months: int | None  # 3, 6, 9, 12: the period's length when the header or title says it
    value: float  # as printed, signed ("(1,577)" is -1577), before scale
    scale: float  # 1e6 for "(in millions)"; 1 for a per-share, percentage or unscaled value
    unit: str  # "USD", "USD per share", "shares", "%", or ""
    text: str  # the cell as printed: "$ 152,301"

    def to_json(self) -> dict:
        return asdict(self)


def statement_of(title: str) -> str:
    for kind, pattern in _STATEMENTS:
        if re.search(pattern, title, re.IGNORECASE):
            return kind
    return ""


def _scale(title: str, label: str, text: str) -> tuple[float, str]:
    """(scale, unit) of a cell: a per-share value, a share count or a percentage is not in the
    table's "(in millions)" unless its caption says so."""
    if text.strip().endswith("%"):
        return 1.0, "%"
    if re.search(r"per (?:common )?share|\beps\b", label, re.IGNORECASE):
        return 1.0, "USD per share"
    unit = "shares" if re.search(r"\bshares\b", label, re.IGNORECASE) else "USD"
    units = units_of(title) or title
    for scale, pattern in _SCALES:
        if re.search(pattern, units, re.IGNORECASE):
            if unit == "shares" and re.search(r"except (?:per )?share", units, re.IGNORECASE):
                return 1.0, unit
            return scale, unit
    return 0.0, unit  # not stated: the page's or the document's stated scale (`_completed`)


def _period(header: str, title: str) -> tuple[str, int | None]:
    """(end, months) of a column: "April 30, 2023" -> ("2023-04-30", None); "2022" -> ("2022", None)."""
    end = iso_date(header)
    if not end:
        years = re.findall(r"\b((?:19|20)\d{2})\b", header) or [f"20{y}" for y in re.findall(r"\b[1-4]Q(\d{2})\b", header)]
        end = years[-1] if years else ""
    months = next((m for m, pattern in _MONTHS if re.search(pattern, header, re.IGNORECASE)), None)
    if months is None:
        months = next((m for m, pattern in _MONTHS if re.search(pattern, title, re.IGNORECASE)), None)
    return end, months


def document_facts(chunks: list[Chunk]) -> list[Fact]:
    """The facts of a document's chunks, in order: a statement's caption printed above its table
    ("Condensed Consolidated Statements of Income", then the rows) names the rows after it on
    its page.
    """
    found, caption, page, printed = [], "", None, None
    for chunk in chunks:
        named = statement_of(" ".join(chunk.section) + " " + chunk.text[:300])
        if named or chunk.page != page:
            caption, page, printed = named, chunk.page, None
        found += facts_of(chunk, caption)
        printed = _printed_statement(chunk.text) or _titled_by_section(chunk) or printed
        if printed:
            found += text_statement_facts(chunk, *printed)
    return _completed(found)


_PERIOD_HEADER = rf"(?:{_DATE}|(?:19|20)\d{{2}})"
_YEARS_RUN = re.compile(rf"({_PERIOD_HEADER}(?:\s+{_PERIOD_HEADER}){{1,4}})(?![\d,])")


def _printed_statement(text: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(statement, title, column headers) of a statement printed as running text: a PDF whose
    statement table was not read as rows ("CONSOLIDATED BALANCE SHEETS (in millions) December 31,
    2016 2017 ASSETS Current assets: Cash and cash equivalents $ 19,334 $ 20,522 ..."). Only a
    title followed within 200 characters by its run of period headers counts, and only in capitals
    or with its scale between ("(In millions)"), so prose that mentions "our Consolidated Balance
    Sheets at December 31, 2016" is never read as one.

    >>> _printed_statement("CONSOLIDATED BALANCE SHEETS (in millions) December 31, 2016 2017 ASSETS Cash $ 1 $ 2")
    ('balance', 'CONSOLIDATED BALANCE SHEETS (in millions)', ('December 31, 2016', 'December 31, 2017'))
    >>> _printed_statement("as shown in our consolidated balance sheets at December 31, 2016 2017") is None
    True
    """
    for kind, pattern in _STATEMENTS:
        for title in re.finditer(rf"(?:Condensed )?(?:Consolidated )?(?:{pattern})", text, re.IGNORECASE):
            run = _YEARS_RUN.search(text, title.end(), title.end() + 200)
            if not run or not (title.group(0).isupper() or re.search(r"\b(?:millions|thousands|billions)\b",
                                                                       text[title.end():run.start()], re.IGNORECASE)):
                continue
            dates = re.findall(_DATE, run.group(1))
            years = re.findall(r"(?:19|20)\d{2}", re.sub(_DATE, "", run.group(1)))
            if dates and years:
                headers = tuple(dates) + tuple(re.sub(r"(?:19|20)\d{2}$", y, dates[-1]) for y in years)
            else:
                headers = tuple(dates or years)
            return kind, " ".join(text[title.start():run.start()].split()), headers
    return None


def _titled_by_section(chunk: Chunk) -> tuple[str, str, tuple[str, ...]] | None:
    """A statement printed as running text whose title is the chunk's heading, not its text: the
    page's "CONSOLIDATED BALANCE SHEETS" was read as a heading and the text begins "MAY 31,
    (Dollars in millions) 2019 2018 ASSETS ...". The heading must be a statement's title in
    capitals and the column headers follow it within the text's first 200 characters.

    >>> chunk = Chunk("c", "nke.pdf", ("CONSOLIDATED BALANCE SHEETS",), "MAY 31, (Dollars in millions) 2019 2018 ASSETS Inventories 5,622 5,261", 0, 0, 54)
    >>> _titled_by_section(chunk)
    ('balance', 'CONSOLIDATED BALANCE SHEETS MAY 31, (Dollars in millions)', ('2019', '2018'))
    >>> _titled_by_section(Chunk("c", "nke.pdf", ("Liquidity",), "MAY 31, 2019 2018 Inventories 5,622 5,261", 0, 0, 54)) is None
    True
    """
    if not chunk.section or not chunk.section[-1].isupper() or not statement_of(chunk.section[-1]):
        return None
    return _printed_statement(f"{chunk.section[-1]} {chunk.text[:200]}")


def text_statement_facts(chunk: Chunk, statement: str, title: str, headers: tuple[str, ...]) -> list[Fact]:
    """The facts of a statement printed as running text (`_printed_statement`): each caption
    followed by exactly one number per column is a row, its numbers the columns in order; a run of
    another length is no row (a guess would give a cell the wrong period). The caption is what
    follows its section's colon ("Current assets: Inventories 11,461 16,047" -> Inventories).

    >>> chunk = Chunk("c", "amzn.pdf", (), "Current assets: Inventories 11,461 16,047 Total current assets 45,781 60,197", 0, 0, 39)
    >>> [(f.label, f.period, f.value) for f in text_statement_facts(chunk, "balance", "BALANCE SHEETS (in millions)",
    ...                                                              ("December 31, 2016", "December 31, 2017"))]
    [('Inventories', 'December 31, 2016', 11461.0), ('Inventories', 'December 31, 2017', 16047.0), \
('Total current assets', 'December 31, 2016', 45781.0), ('Total current assets', 'December 31, 2017', 60197.0)]
    """
    found, label, cells = [], [], []

    def close() -> None:
        text = " ".join(label).rpartition(":")[2]
        text = text[max((m.end() for m in _YEARS_RUN.finditer(text)), default=0):].strip()  # not the headers before it
        text = _without_headings(text)
        if len(cells) == len(headers) and re.search(r"[A-Za-z]{3}", text):
            for header, cell in zip(headers, cells):
                value = parse_number(cell)
                if value is None:
                    continue
                scale, unit = _scale(title, text, cell)
                end, months = _period(header, title)
                found.append(Fact(chunk.source, chunk.page, statement, title, text, standard_item(text), header,
                                  end, months, value, scale, unit, cell))
        label.clear(), cells.clear()

    for line in chunk.text.split("\n"):
        if _is_table_row(line):
            continue
        for token in line.split():
            if token in _CURRENCY_SIGNS:
                continue
            if parse_number(token) is not None or token in ("—", "–", "-"):
                cells.append(token)
            else:
                if cells:
                    close()
                label.append(token)
        close()
    return found


_CURRENCY_SIGNS = {"$", "€", "£", "¥"}
_HEADINGS = re.compile(r"^(?:(?:[A-Z][A-Z'’&,.]*\s+)+)?(?:(?:Current|Other|Total) (?:assets|liabilities)|Assets|Liabilities|"
                       r"(?:Stockholders|Shareholders)['’] equity|(?:Operating|Investing|Financing) activities)?\s*")


def _without_headings(caption: str) -> str:
    """A caption less the headings a statement printed as running text puts before its first row
    without a colon ("LIABILITIES AND STOCKHOLDERS' EQUITY Current liabilities Accounts payable"
    -> "Accounts payable"); a caption that is all heading stays as it is.

    >>> _without_headings("LIABILITIES AND STOCKHOLDERS' EQUITY Current liabilities Accounts payable")
    'Accounts payable'
    >>> _without_headings("ASSETS Current assets Cash and cash equivalents"), _without_headings("Total current assets")
    ('Cash and cash equivalents', 'Total current assets')
    >>> _without_headings("Other assets"), _without_headings("TOTAL ASSETS")
    ('Other assets', 'TOTAL ASSETS')
    """
    rest = caption[_HEADINGS.match(caption).end():]
    return rest if re.search(r"[a-z]{3}", rest) else caption  # a caption in capitals is kept whole


def _is_table_row(line: str) -> bool:
    """A row the table readers wrote ("title — label — 2023: 1,234; 2022: 1,100"), which `facts_of`
    reads, as against running text where " — " is a dash cell ("Short-term investments — 266,206").

    >>> _is_table_row("Balance (in millions) — Inventories — 2019: 5,409; 2018: 5,209")
    True
    >>> _is_table_row("Cash $ 2,822 $ 1,467 Short-term investments — 266,206 Current content assets, net 4,310 3,726")
    False
    """
    parts = line.split(ROW_SEPARATOR)
    return len(parts) >= 3 and all(parse_number(cell.rpartition(": ")[2]) is not None or cell.strip() in ("—", "–", "-")
                                   for cell in parts[-1].split("; "))


# A table whose caption was not read is a statement by the standard lines it holds.
_ITEMS_OF = [("cash flow", {"cash from operations", "capital expenditure"}),
             ("balance", {"total assets", "total current assets", "total liabilities", "total current liabilities"}),
             ("income", {"revenue", "net income", "eps diluted", "eps basic", "operating income", "cost of revenue"})]


def _completed(facts: list[Fact]) -> list[Fact]:
    """Facts of an uncaptioned table (same page and row title) named by the statement whose
    standard lines it holds (a table with "Total assets" is a balance sheet), and a scale the
    row's title does not state (titles are cut to their last 80 characters) taken from its page,
    else from the document: a filing states "(in millions)" once per statement."""
    from collections import Counter
    from dataclasses import replace

    items: dict[tuple, set[str]] = {}
    for fact in facts:
        items.setdefault((fact.source, fact.page, fact.title), set()).add(fact.item)
    kinds = {key: next((kind for kind, lines in _ITEMS_OF if held & lines), "") for key, held in items.items()}
    stated = [f for f in facts if f.scale and f.unit == "USD"]
    by_page = {(f.source, f.page): f.scale for f in stated}
    by_document = {source: Counter(f.scale for f in stated if f.source == source).most_common(1)[0][0]
                   for source in {f.source for f in stated}}
    out = []
    for fact in facts:
        statement = fact.statement or kinds[(fact.source, fact.page, fact.title)]
        scale = fact.scale or by_page.get((fact.source, fact.page)) or by_document.get(fact.source) or 1.0
        out.append(replace(fact, statement=statement, scale=scale))
    return out


def _headers_in_title(title: str, cells: int) -> list[str]:
    """Column headers a table reader left in the row's title: a statement whose header line did
    not split into columns prints "December 1, 2017 December 2, 2016 ASSETS Current assets" above
    cells with no header. When the title names as many dates (else years) as the row has cells,
    they are its columns, in order; otherwise none (a guess would give a cell the wrong period).

    >>> _headers_in_title("As of June 30, 2023 December 31, 2022 (unaudited) Assets", 2)
    ['June 30, 2023', 'December 31, 2022']
    >>> _headers_in_title("Years Ended December 31, 2017 2016 2015", 3), _headers_in_title("2017 2016", 3)
    (['2017', '2016', '2015'], [])
    """
    for pattern in (_DATE, r"\b(?:19|20)\d{2}\b"):
        found = re.findall(pattern, title)
        if len(found) == cells:
            return found
    return []


def facts_of(chunk: Chunk, caption: str = "") -> list[Fact]:
    """The facts of a chunk's table rows (none for prose); `caption`, the statement its page
    has named above it.

    >>> chunk = Chunk("c", "wmt.pdf", (), "Condensed Consolidated Statements of Income (Amounts in millions) — "
    ...               "Total revenues — Three Months Ended April 30, 2023: 152,301; Three Months Ended April 30, 2022: 141,569", 0, 0, 3)
    >>> [(f.item, f.period_end, f.months, f.value, f.scale, f.statement) for f in facts_of(chunk)]
    [('revenue', '2023-04-30', 3, 152301.0, 1000000.0, 'income'), ('revenue', '2022-04-30', 3, 141569.0, 1000000.0, 'income')]
    """
    found = []
    for line in chunk.text.split("\n"):
        parts = line.split(ROW_SEPARATOR)
        if len(parts) < 3:
            continue
        title, label, pairs = parts[0].strip(), ROW_SEPARATOR.join(parts[1:-1]).strip(), parts[-1]
        cells = pairs.split("; ")
        headers = _headers_in_title(title, len(cells)) if not any(": " in c for c in cells) else []
        for n, pair in enumerate(cells):
            header, _, text = pair.rpartition(": ")
            if headers:
                header, text = headers[n], pair
            value = parse_number(text)
            if value is None or not header:
                continue
            scale, unit = _scale(title, label, text)
            end, months = _period(header, title)
            found.append(Fact(chunk.source, chunk.page, statement_of(title) or caption, title, label, standard_item(label),
                              header.strip(), end, months, value, scale, unit, text.strip()))
    return found
