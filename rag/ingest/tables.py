"""Tables as tables: every data row kept with its column headers, the table's title and units.

A statement table's row alone ("| Purchases of PP&E | (1,577) | (1,373) |") cut off from its
header ("| (Millions) | 2018 | 2017 |") says no period, so retrieval cannot find it by the year
a question names and an answer cannot say which year a number is for. Each data row is written
as one self-describing line instead:

    Consolidated Statement of Cash Flows (Millions) — Purchases of PP&E — 2018: (1,577); 2017: (1,373)

Pure: the readers give cells (with x positions for PDF, where columns must be matched by
place, since a header cell may span two columns); this module decides headers and writes rows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ROW_SEPARATOR = " — "
MAX_TITLE_CHARS = 80
MAX_HEADER_ROWS = 3

_NUMBER = re.compile(r"^\(?-?[$€£¥]?\s*\(?-?(?:\d(?:[\d,]*\d)?)?(?:\.\d+)?\)?\s*(?:%|x|pts?|bps)?\)?$",
                     re.IGNORECASE)
_YEAR = re.compile(r"^(?:19|20)\d{2}$")
_DASH = {"—", "–", "-", "— %", "n/a", "N/A", "nm", "NM", "*"}
_UNITS = re.compile(r"\((?:[$€£]\s*)?(?:in\s+)?(?:millions|thousands|billions|dollars in \w+|\w+ in (?:millions|"
                    r"thousands|billions))[^)]{0,60}\)", re.IGNORECASE)


@dataclass(frozen=True)
class Cell:
    """One cell of a row: its text and, for PDF, its left and right x (0, 0 elsewhere)."""

    text: str
    left: float = 0.0
    right: float = 0.0

    @property
    def center(self) -> float:
        return (self.left + self.right) / 2


def parse_number(text: str) -> float | None:
    """The value of a table number with its sign; None for text, dashes and years alone.

    >>> [parse_number(t) for t in ["(1,234)", "$ 5,363", "12.5%", "-0.4", "—", "2018", "Notebook", "31,", ".40"]]
    [-1234.0, 5363.0, 12.5, -0.4, None, None, None, None, 0.4]
    """
    text = text.strip()
    if not re.search(r"\d", text) or text in _DASH or _YEAR.match(text) or not _NUMBER.match(text):
        return None
    negative = text.startswith("(") or text.endswith(")") or text.lstrip("($€£¥ ").startswith("-")
    digits = re.sub(r"[^\d.]", "", text)
    try:
        value = float(digits)
    except ValueError:
        return None
    return -value if negative else value


def is_value(text: str) -> bool:
    return parse_number(text) is not None or text.strip() in _DASH


_CURRENCY = {"$", "€", "£", "¥"}


def _value_token(text: str) -> bool:
    return text in _CURRENCY or text in {")", "%", ")%"} or parse_number(text) is not None or text in _DASH


def group_cells(words: list[Cell], cell_gap: float) -> list[Cell]:
    """Words (with their x spans) grouped into cells: a gap wider than `cell_gap` starts a cell;
    inside one, the numbers that end it are cells of their own, so that "Cash at end of period
    $2,853 $ 3,053" set with narrow gaps still gives its label and its two values, while
    "greater than 90 days" stays text.

    >>> words = [Cell("Cash", 0, 20), Cell("at", 22, 30), Cell("end", 32, 45), Cell("$2,853", 47, 70),
    ...          Cell("$", 75, 78), Cell("3,053", 79, 100), Cell("than", 200, 220), Cell("90", 222, 230),
    ...          Cell("days", 232, 250)]
    >>> [c.text for c in merge_number_parts(group_cells(words, 30))]
    ['Cash at end', '$2,853', '$3,053', 'than 90 days']
    """
    runs: list[list[Cell]] = []
    for word in words:
        if not runs or word.left - runs[-1][-1].right > cell_gap:
            runs.append([])
        runs[-1].append(word)
    cells: list[Cell] = []
    for run in runs:
        cut = len(run)
        while cut > 0 and _value_token(run[cut - 1].text):
            cut -= 1
        if cut:
            cells.append(Cell(" ".join(w.text for w in run[:cut]), run[0].left, run[cut - 1].right))
        for word in run[cut:]:
            previous = cells[-1] if cells and cells[-1].right >= run[0].left else None
            if previous is not None and previous.text in _CURRENCY:
                cells[-1] = Cell(previous.text + word.text, previous.left, word.right)
            else:
                cells.append(word)
    return cells


def merge_number_parts(cells: list[Cell]) -> list[Cell]:
    """A currency sign set apart from its number, and a closing parenthesis or a per cent sign set
    apart after it, joined to the number (statement tables place them in cells of their own).

    >>> [c.text for c in merge_number_parts([Cell("Sales"), Cell("$"), Cell("5,363"), Cell("(370"), Cell(")"),
    ...                                      Cell("12"), Cell("%")])]
    ['Sales', '$5,363', '(370)', '12%']
    """
    out: list[Cell] = []
    pending: Cell | None = None
    for cell in cells:
        text = cell.text.strip()
        if text in _CURRENCY:
            pending = cell
            continue
        if pending is not None:
            text = pending.text.strip() + text.lstrip("$€£¥ ")
            cell = Cell(text, pending.left, cell.right)
            pending = None
        if out and text in {")", "%", ")%", "%)"} and re.search(r"\d$", out[-1].text):
            out[-1] = Cell(out[-1].text + text, out[-1].left, cell.right)
            continue
        out.append(cell)
    if pending is not None:
        out.append(pending)
    return out


def is_header_row(cells: list[Cell]) -> bool:
    """A row with no value cells: column titles, periods ("2018", "December 31, 2022").

    >>> is_header_row([Cell("(Millions)"), Cell("2018"), Cell("2017")]), is_header_row([Cell("Sales"), Cell("5")])
    (True, False)
    """
    return not any(parse_number(c.text) is not None for c in cells)


def units_of(text: str) -> str:
    """The units a table states, as written: "(in millions, except per share data)".

    >>> units_of("Consolidated Statements of Operations (In millions, except per share amounts)")
    '(In millions, except per share amounts)'
    """
    found = _UNITS.search(text)
    return found.group() if found else ""


def _nearest(cells: list[Cell], x: float) -> Cell | None:
    """The header cell over the column at x: the one whose span holds x, else the nearest."""
    if not cells:
        return None
    holding = [c for c in cells if c.left - 2 <= x <= c.right + 2]
    if holding:
        return min(holding, key=lambda c: c.right - c.left)
    return min(cells, key=lambda c: abs(c.center - x))


def column_headers(header_rows: list[list[Cell]], values: list[Cell], by_position: bool) -> list[str]:
    """Each value column's header, the header rows' cells over it joined top to bottom.

    By position (PDF) a header cell over a column is the one whose span holds the column's
    centre; else (HTML, Word) the header row's cells are matched from the right, since the
    label column on the left may have no header cell.

    >>> rows = [[Cell("Three Months Ended", 200, 330)], [Cell("July 1, 2023", 200, 250), Cell("June 25, 2022", 280, 330)]]
    >>> column_headers(rows, [Cell("$39,669", 210, 245), Cell("$40,665", 285, 325)], True)
    ['Three Months Ended July 1, 2023', 'Three Months Ended June 25, 2022']
    >>> column_headers([[Cell("Region"), Cell("2021"), Cell("2022")]], [Cell("5"), Cell("7")], False)
    ['2021', '2022']
    """
    headers = []
    for index, value in enumerate(values):
        parts = []
        for row in header_rows:
            titled = [c for c in row if c.text.strip() and not units_of(c.text) == c.text.strip()]
            if by_position:
                cell = _nearest([c for c in titled if c.right > 0], value.center)
            else:
                offset = len(values) - index
                cell = titled[-offset] if 0 < offset <= len(titled) and len(titled) > 0 else None
            if cell is not None and cell.text not in parts:
                parts.append(cell.text)
        headers.append(" ".join(parts))
    return headers


def row_text(title: str, label: str, headers: list[str], values: list[str]) -> str:
    """One data row as a line that carries its table's title and its columns' headers.

    >>> row_text("Net sales by category (in millions)", "iPhone", ["July 1, 2023", "June 25, 2022"], ["$39,669", "$40,665"])
    'Net sales by category (in millions) — iPhone — July 1, 2023: $39,669; June 25, 2022: $40,665'
    """
    pairs = "; ".join(f"{h}: {v}" if h else v for h, v in zip(headers, values))
    return ROW_SEPARATOR.join(part for part in (title_tail(title), label.strip(), pairs) if part)


def title_tail(text: str) -> str:
    """The end of a table's title, cut at a word: what comes last (the statement's name, the units)
    names the table; "3M Company and Subsidiaries" before it does not.

    >>> title_tail("Acme Inc. and Subsidiaries Consolidated Statement of Cash Flows Years ended December 31 (Millions)")
    'Consolidated Statement of Cash Flows Years ended December 31 (Millions)'
    """
    text = " ".join(text.split())
    if len(text) <= MAX_TITLE_CHARS:
        return text
    return text[-MAX_TITLE_CHARS:].split(" ", 1)[-1]


@dataclass
class TableState:
    """What a reader keeps while it walks one table: title, header rows, the last group label."""

    title: str = ""
    header_rows: list | None = None
    label: str = ""  # a text line just above a row with no label of its own

    def begin(self, title: str) -> None:
        self.title, self.header_rows, self.label = title, [], ""

    def read(self, cells: list[Cell], by_position: bool) -> str:
        """A data row's line with its headers; a row with no values (a header, a text table's row)
        as "| a | b |", and kept as a header for the rows below.

        >>> state = TableState(); state.begin("Sales (in millions)")
        >>> state.read([Cell("Region"), Cell("2022")], False), state.read([Cell("North"), Cell("$"), Cell("220")], False)
        ('| Region | 2022 |', 'Sales (in millions) — North — 2022: $220')
        """
        cells = [c for c in merge_number_parts(cells) if c.text.strip()]
        if self.header_rows is None:
            self.begin("")
        if not cells:
            return ""
        first_value = next((i for i, c in enumerate(cells) if is_value(c.text)), len(cells))
        if is_header_row(cells) or first_value == len(cells):
            self.header_rows = (self.header_rows + [cells])[-MAX_HEADER_ROWS:]
            units = next((units_of(c.text) for c in cells if units_of(c.text)), "")
            if units and units not in self.title:
                self.title = f"{self.title} {units}".strip()
            return "| " + " | ".join(c.text for c in cells) + " |"
        label = " ".join(c.text for c in cells[:first_value]) or self.label
        values = cells[first_value:]
        headers = column_headers(self.header_rows, values, by_position)
        return row_text(self.title, label, headers, [c.text for c in values])


def text_rows(rows: list[list[str]], title: str = "") -> list[str]:
    """Rows of a table whose cells come without places (HTML, Word), each written with its headers.

    >>> text_rows([["Region", "2021", "2022"], ["North", "220", "(15)"]], "Tonnes shipped")
    ['| Region | 2021 | 2022 |', 'Tonnes shipped — North — 2021: 220; 2022: (15)']
    """
    state = TableState()
    state.begin(title)
    return [line for line in (state.read([Cell(t) for t in row], by_position=False) for row in rows) if line]
