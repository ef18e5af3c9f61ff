"""Document cards: who wrote a document, what kind it is and which period it covers.

A folder of look-alike reports (one company's 10-Qs of four quarters, ten agencies' plans for
one year) differs in little but these facts, and questions name them ("3M's FY2018 capital
expenditure", "the Q2 2023 10-Q", "the latest quarter"). The card is read from what the
document says of itself on its first pages (a filing's cover states the registrant, the form
and the period; a report's cover its agency and fiscal year), then from its file name, and a
user's corrections (a sidecar file, `FILE.card.json`) win over both.

Pure: `read_card` takes the first pages' text and the file name; `fiscal_quarter` places a
quarter's end in a fiscal year that ends in a given month.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, timedelta

from rag.control_tokens import without_control_tokens
from rag.ingest.naming import fiscal_year_end_month, from_file_name

CARD_FIELDS = ("title", "organisation", "kind", "fiscal_year", "quarter", "period_end", "date", "file_period")
SIDECAR_SUFFIX = ".card.json"
COVER_CHARS = 30_000  # two pages of a dense filing are under 15,000 characters; the card reads no further
_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], start=1)}
_MONTH_ABBR = {m[:3]: i for m, i in _MONTHS.items()}
_DATE = re.compile(r"\b(January|February|March|April|May|June|July|August|September|October|November|December)"
                   r"\.?\s+(\d{1,2})\s*,?\s*((?:19|20)\d{2})\b", re.IGNORECASE)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
LEGAL_WORDS = re.compile(r"\b(?:inc|incorporated|corp|corporation|co|company|companies|plc|ltd|limited|llc|lp|"
                    r"holdings|group|the|sa|nv|ag)\b\.?", re.IGNORECASE)

# kind, cover pattern: the first that the first pages state wins
_KINDS = [
    ("10-K", r"\bform\s+10-?k\b|\bannual report pursuant to section 13"),
    ("10-Q", r"\bform\s+10-?q\b|\bquarterly report pursuant to section 13"),
    ("8-K", r"\bform\s+8-?k\b|\bcurrent report pursuant to section 13"),
    ("20-F", r"\bform\s+20-?f\b"),
    ("earnings release", r"\b(?:reports|announces|reported)\b[^.]{0,80}\b(?:quarter|year)\b[^.]{0,40}\bresults\b"),
    ("strategic plan", r"\bstrategic plan\b"),
    ("performance report", r"\bperformance (?:and accountability )?report\b|\bannual performance (?:plan|report)\b"),
    ("annual report", r"\bannual report\b"),
    ("press release", r"\bnews release\b|\bpress release\b"),
]
_AGENCY = re.compile(r"\b((?:U\.\s?S\.\s+)?(?:Department|Dept\.) of (?:the )?[A-Z][a-z]+(?:(?:,? and| &)? [A-Z][a-z]+)*"
                     r"|(?:[A-Z][a-z]+ ){1,5}(?:Administration|Agency|Commission|Bureau|Service|Office|Board))\b")


@dataclass(frozen=True)
class Reading:
    """One way a person names a document's period: its fiscal year and quarter, the calendar's,
    or what its file name says. A question's period matches a document when any reading does."""

    year: int
    quarter: int | None  # None: a whole year
    how: str  # "fiscal", "file name" or "calendar"


@dataclass(frozen=True)
class DocumentCard:
    """What a document is, in the fields a question names. Empty fields are unknown."""

    title: str = ""
    organisation: str = ""
    kind: str = ""  # "10-K", "10-Q", "8-K", "earnings release", "annual report", "strategic plan", ...
    fiscal_year: int | None = None
    quarter: int | None = None  # 1-4 within the fiscal year; None for a whole year
    period_end: str = ""  # ISO date the period ends on
    date: str = ""  # ISO date the document is dated or filed
    file_period: str = ""  # the period its file name states: "2023 Q3", "2023" ("2023 Q3 AAPL.pdf")
    aliases: tuple[str, ...] = ()  # other names of the organisation: a ticker, the file name's
    corrected: tuple[str, ...] = ()  # fields a user set (sidecar), shown as such

    @property
    def identified(self) -> bool:
        """The document says who wrote it and what or when it is: a report among look-alikes.
        Only such a card is embedded with the passages (an article's card adds nothing)."""
        return bool(self.organisation and (self.kind or self.fiscal_year))

    @property
    def period(self) -> str:
        """ "Q2 FY2023", "FY2018" or "".

        >>> DocumentCard(fiscal_year=2023, quarter=2).period, DocumentCard(fiscal_year=2018).period
        ('Q2 FY2023', 'FY2018')
        """
        if self.fiscal_year is None:
            return ""
        return f"Q{self.quarter} FY{self.fiscal_year}" if self.quarter else f"FY{self.fiscal_year}"

    def readings(self) -> tuple[Reading, ...]:
        """Every reading of the period: fiscal, file name, and the calendar's by the period end (a
        quarter ended July 1, 2023 is calendar Q2 by the months it covers and Q3 by its end date).

        >>> card = DocumentCard(kind="10-Q", fiscal_year=2023, quarter=3, period_end="2023-07-01", file_period="2023 Q3")
        >>> sorted({(r.year, r.quarter, r.how) for r in card.readings()})
        [(2023, 2, 'calendar'), (2023, 3, 'calendar'), (2023, 3, 'file name'), (2023, 3, 'fiscal')]
        >>> [(r.year, r.quarter) for r in DocumentCard(kind="10-K", fiscal_year=2022, period_end="2023-01-28").readings()]
        [(2022, None), (2023, None)]
        """
        found = []
        if self.fiscal_year is not None:
            found.append(Reading(self.fiscal_year, self.quarter, "fiscal"))
        named = re.fullmatch(r"((?:19|20)\d{2})(?: Q([1-4]))?", self.file_period)
        if named:
            found.append(Reading(int(named.group(1)), int(named.group(2)) if named.group(2) else None, "file name"))
        try:
            end = date.fromisoformat(self.period_end)
        except ValueError:
            end = None
        if end and (self.quarter is not None or self.kind == "10-Q"):
            month, year = _month_of(end)
            middle = end - timedelta(days=45)
            for y, m in ((middle.year, middle.month), (year, month), (end.year, end.month)):
                found.append(Reading(y, (m - 1) // 3 + 1, "calendar"))
            if self.quarter:  # "NVIDIA's Q1 2023": the fiscal quarter, in the calendar year it ends in
                found.append(Reading(year, self.quarter, "calendar"))
        elif end:
            found.append(Reading(_month_of(end)[1], None, "calendar"))
        return tuple(dict.fromkeys(found))

    def ended(self) -> str:
        """The period end as written: "April 1, 2023" ("" when unknown).

        >>> DocumentCard(period_end="2023-04-01").ended()
        'April 1, 2023'
        """
        try:
            end = date.fromisoformat(self.period_end)
        except ValueError:
            return ""
        return f"{end.strftime('%B')} {end.day}, {end.year}"

    def line(self) -> str:
        """The card as one line: "3M · 10-K · FY2018" (empty when nothing is known).

        >>> DocumentCard(organisation="3M", kind="10-K", fiscal_year=2018).line()
        '3M · 10-K · FY2018'
        """
        return " · ".join(p for p in (self.organisation, self.kind, self.period) if p)

    def sort_key(self) -> tuple:
        """Older periods first; a whole year after its fourth quarter."""
        return (self.fiscal_year or 0, self.quarter or 5, self.period_end or self.date)

    def to_json(self) -> dict:
        data = asdict(self)
        data["aliases"], data["corrected"] = list(self.aliases), list(self.corrected)
        return data

    @classmethod
    def from_json(cls, data: dict | None) -> "DocumentCard":
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in (data or {}).items() if k in known}
        for name in ("aliases", "corrected"):
            data[name] = tuple(data.get(name) or ())
        return cls(**data)


def iso_date(text: str) -> str:
    """The first written date in a text, as ISO: "December 31, 2018" -> "2018-12-31".

    >>> iso_date("For the fiscal year ended December 31, 2018"), iso_date("no date")
    ('2018-12-31', '')
    """
    found = _DATE.search(text)
    if not found:
        return ""
    month, day, year = _MONTHS[found.group(1).lower()], int(found.group(2)), int(found.group(3))
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return ""


def _month_of(end: date) -> tuple[int, int]:
    """(month, year) a period ending on `end` belongs to: a 52-53-week period can end in the first
    week of the next month ("January 3, 2016" closes Kraft Heinz's fiscal 2015)."""
    if end.day > 7:
        return end.month, end.year
    return (end.month - 2) % 12 + 1, end.year - (end.month == 1)


def fiscal_quarter(period_end: str, year_end_month: int = 12) -> tuple[int, int] | None:
    """(fiscal year, quarter) of a quarter ending on `period_end`, in a fiscal year that ends in
    `year_end_month`; a fiscal year is named by the calendar year it ends in.

    >>> fiscal_quarter("2022-12-31", 6), fiscal_quarter("2023-06-30"), fiscal_quarter("2023-04-29", 1)
    ((2023, 2), (2023, 2), (2024, 1))
    """
    try:
        end = date.fromisoformat(period_end)
    except ValueError:
        return None
    month, year = _month_of(end)
    year = year if month <= year_end_month else year + 1
    return year, ((month - year_end_month - 1) % 12) // 3 + 1


def core_name(name: str) -> str:
    """An organisation's name without legal form or punctuation, lower case, no spaces: how names compare.

    >>> core_name("BEST BUY CO., INC."), core_name("The Coca-Cola Company"), core_name("JOHNSON_JOHNSON")
    ('bestbuy', 'cocacola', 'johnsonjohnson')
    """
    name = LEGAL_WORDS.sub(" ", name.replace("_", " "))
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _organisation(text: str) -> str:
    """The registrant named before "(Exact name of registrant ...)", a release's subject, or an agency."""
    found = re.search(r"([A-Z0-9][\w.,&'’\- ]{1,80}?)\s*\(\s*exact name of registrant", text, re.IGNORECASE)
    if found:
        name = found.group(1).strip(" ,")
        # what follows a file number ("0-15175"), a rule of underscores or a date
        name = re.split(r"_{2,}|\b\d{1,4}-\d{3,6}\b\.?|\b(?:19|20)\d{2}\b", name)[-1]
        name = " ".join(name.split()[-6:]).strip(" ,.")
        if name and not re.search(r"commission|file number", name, re.IGNORECASE):
            return name
    found = re.search(r"^([A-Z][\w.&'’\- ]{1,60}?)\s+(?:Reports|Announces|Reported)\b", text, re.MULTILINE)
    if found:
        return found.group(1).strip()
    found = _AGENCY.search(text)
    if not found:
        return ""
    # "U.S. Department of Transportation Strategic Plan": the name, not the document's kind
    return re.sub(r"(?:\s+(?:Strategic|Annual|Performance|Plan|Report|Fiscal|Year|FY))+$", "", found.group(1).strip())


def _cover_period(text: str, kind: str) -> tuple[int | None, int | None, str]:
    """(fiscal year, quarter, period end) as the cover states them."""
    end = ""
    found = re.search(r"(?:fiscal\s+)?(?:year|period|quarter|weeks)[\"”’)]*\s+ended\s*:?\s*"
                      r"([A-Z][a-z]+\.?\s+\d{1,2}\s*,?\s*\d{4})", text, re.IGNORECASE)
    if found:
        end = iso_date(found.group(1))
    quarterly = re.search(r"quarterly\s+period\s+ended\b", text, re.IGNORECASE)
    if quarterly:  # "For the quarterly period ended Commission file\nMarch 31, 2022": the date after a column's words
        end = iso_date(text[quarterly.end():quarterly.end() + 80]) or end
    named = re.search(r"\b(first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+quarter(?:\s+of)?(?:\s+fiscal(?:\s+year)?)?"
                      r"\s+((?:19|20)\d{2})\b", text, re.IGNORECASE)
    if named:
        return int(named.group(2)), _ORDINALS[named.group(1).lower()], end
    named = re.search(r"\bQ([1-4])\s*(?:FY)?\s*'?((?:19|20)\d{2})\b", text)
    if named:
        return int(named.group(2)), int(named.group(1)), end
    if end:
        year = _month_of(date.fromisoformat(end))[1]
        if kind == "10-Q" or quarterly:
            fq = fiscal_quarter(end)
            return (fq[0], fq[1], end) if fq else (year, None, end)
        return year, None, end
    found = re.search(r"\b(?:fiscal\s+year|FY)\s*'?((?:19|20)\d{2})\b", text, re.IGNORECASE)
    if found:
        return int(found.group(1)), None, ""
    return None, None, ""


def _names_quarter(text: str) -> bool:
    """The cover names its quarter in words ("second quarter of fiscal 2024", "Q2 2024")."""
    return bool(re.search(r"\b(?:first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+quarter(?:\s+of)?(?:\s+fiscal(?:\s+year)?)?"
                          r"\s+(?:19|20)\d{2}\b|\bQ[1-4]\s*(?:FY)?\s*'?(?:19|20)\d{2}\b", text, re.IGNORECASE))


def _title(lines: list[str]) -> str:
    boilerplate = re.compile(r"^(united states|securities and exchange commission|washington|form\s|table of contents"
                             r"|exhibit|news release|\(mark one\)|page \d+|[\W_]*$|[a-z]+\.? \d{1,2},? \d{4}$)", re.IGNORECASE)
    return next((line[:120] for line in lines if not boilerplate.match(line) and len(line) > 3), "")


def read_card(first_pages: list[str], file_name: str, body: str = "") -> DocumentCard:
    """The card a document's first pages and file name give (pages' text as blocks' lines); `body`,
    the rest of its text, may say in which month its fiscal year ends (a 10-Q's cover never does).

    >>> cover = ["FORM 10-Q", "QUARTERLY REPORT PURSUANT TO SECTION 13 OR 15(d) For the Quarterly Period Ended "
    ...          "December 31, 2022", "AMCOR PLC", "(Exact name of Registrant as specified in its charter)",
    ...          "| Ordinary Shares | AMCR | New York Stock Exchange |"]
    >>> card = read_card(cover, "filing.pdf")
    >>> card.organisation, card.kind, card.period_end, card.line()
    ('AMCOR PLC', '10-Q', '2022-12-31', 'AMCOR PLC · 10-Q · Q4 FY2022')
    """
    text = "\n".join(first_pages)[:COVER_CHARS]  # a 50 MB one-line "cover" must not cost minutes of regex
    kind = next((k for k, pattern in _KINDS if re.search(pattern, text, re.IGNORECASE)), "")
    year, quarter, end = _cover_period(text, kind)
    year_end = fiscal_year_end_month(body or text)
    if end and quarter is not None and year_end and not _names_quarter(text):
        year, quarter = fiscal_quarter(end, year_end) or (year, quarter)
    stem = without_control_tokens(re.sub(r"\.[A-Za-z0-9]{1,5}$", "", file_name.rsplit("/", 1)[-1]))
    named = from_file_name(stem)
    organisation = _organisation(text)
    aliases = []
    ticker = re.search(r"\|\s*([A-Z]{1,5})\s*\|\s*(?:The\s+)?(?:New York|NASDAQ|Nasdaq|NYSE)", text)
    if ticker:
        aliases.append(ticker.group(1))
    ticker = re.search(r"\((?:NYSE|NASDAQ|Nasdaq|NYSE American)\s*:\s*([A-Z]{1,5})\)", text)
    if ticker:
        aliases.append(ticker.group(1))
    if named.get("organisation") and core_name(named["organisation"]) != core_name(organisation):
        aliases.append(named["organisation"])
    if named.get("quarter") and quarter is None and year in (None, named["fiscal_year"]):
        year, quarter = named["fiscal_year"], named["quarter"]  # the cover says no quarter: the file name's
    return DocumentCard(
        title=_title(first_pages) or stem,
        organisation=organisation or named.get("organisation", ""),
        kind=kind or named.get("kind", ""),
        fiscal_year=year if year is not None else named.get("fiscal_year"),
        quarter=quarter,
        period_end=end,
        file_period=named.get("file_period", ""),
        date=iso_date(text[:400]) if not end or iso_date(text[:400]) != end else "",
        aliases=tuple(dict.fromkeys(aliases)),
    )


def with_corrections(card: DocumentCard, corrections: dict) -> DocumentCard:
    """The card with a user's fields set; unknown fields are refused by the caller (`check_corrections`).

    >>> with_corrections(DocumentCard(organisation="ACME"), {"fiscal_year": "2021"}).line()
    'ACME · FY2021'
    """
    values = {}
    for name, value in corrections.items():
        if name in ("fiscal_year", "quarter"):
            value = int(value) if value not in (None, "") else None
        elif name == "aliases":
            value = tuple(without_control_tokens(a) for a in (value if isinstance(value, (list, tuple))
                                                              else str(value).split(",")))
        elif isinstance(value, str):
            value = without_control_tokens(value)
        values[name] = value
    return replace(card, **values, corrected=tuple(sorted(set(card.corrected) | set(values))))


def check_corrections(corrections: dict, where: str) -> dict:
    """The corrections, or ValueError naming the first field or value no card has.

    >>> check_corrections({"organisation": ["a", "list"]}, "x.card.json")
    Traceback (most recent call last):
    ValueError: x.card.json: organisation must be text (got list)
    """
    if not isinstance(corrections, dict):
        raise ValueError(f"{where}: a card correction is a JSON object of fields")
    for name, value in corrections.items():
        if name not in CARD_FIELDS + ("aliases",):
            raise ValueError(f"{where}: unknown card field {name!r}; the fields are {', '.join(CARD_FIELDS)}, aliases")
        if name not in ("fiscal_year", "quarter", "aliases") and not isinstance(value, str):
            raise ValueError(f"{where}: {name} must be text (got {type(value).__name__})")
        if name == "aliases" and not (isinstance(value, str) or isinstance(value, list)
                                      and all(isinstance(a, str) for a in value)):
            raise ValueError(f"{where}: aliases must be text or a list of texts")
        if name in ("fiscal_year", "quarter") and value not in (None, ""):
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: {name} must be a whole number (got {value!r})") from None
            if name == "quarter" and not 1 <= number <= 4:
                raise ValueError(f"{where}: quarter must be 1 to 4 (got {number})")
    return corrections


def parse_sidecar(text: str, where: str) -> dict:
    """A sidecar's corrections from its JSON text; ValueError in one line when it is not one."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    return check_corrections(data, where)


def resolve_quarters(cards: dict[str, DocumentCard]) -> dict[str, DocumentCard]:
    """Quarters placed in each organisation's own fiscal year, read off its annual reports' period
    ends in the same collection (Amcor's year ends in June: its quarter ending in December is
    Q2 FY2023, not Q4 FY2022). A quarter a user or a file name stated stays.

    >>> cards = {"k": DocumentCard(organisation="Amcor plc", kind="10-K", fiscal_year=2023, period_end="2023-06-30"),
    ...          "q": DocumentCard(organisation="AMCOR PLC", kind="10-Q", fiscal_year=2022, quarter=4, period_end="2022-12-31")}
    >>> resolve_quarters(cards)["q"].period
    'Q2 FY2023'
    """
    year_end: dict[str, int] = {}
    for card in cards.values():
        if card.kind in ("10-K", "20-F", "annual report") and card.period_end:
            year_end.setdefault(core_name(card.organisation), _month_of(date.fromisoformat(card.period_end))[0])
    out = {}
    for source, card in cards.items():
        month = year_end.get(core_name(card.organisation))
        if card.quarter and card.period_end and month and "quarter" not in card.corrected:
            placed = fiscal_quarter(card.period_end, month)
            if placed:
                card = replace(card, fiscal_year=placed[0], quarter=placed[1])
        out[source] = card
    return out
