"""What a question names of its document: the organisation (by name, ticker or file-name token),
the periods in the words it uses (fiscal, calendar, a period end), the form, and "latest".

Read once per question (`answer.question.parse`), against the collection's cards; which
documents match is `scope`'s. Pure: a question's text and cards in, an `Asked` out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rag.ingest.cards import LEGAL_WORDS, DocumentCard, core_name, iso_date

_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_KIND_WORDS = [("10-K", r"\b10-?k\b|\bannual report\b|\bannual filing\b"),
               ("10-Q", r"\b10-?q\b|\bquarterly report\b"),
               ("8-K", r"\b8-?k\b"),
               ("earnings release", r"\bearnings (?:release|report|call)\b|\bpress release\b")]
_LATEST = re.compile(r"\b(?:latest|most recent|newest|last reported|current)\b", re.IGNORECASE)
_TOKENS = re.compile(r"[A-Za-z0-9]+")
# "by FY 2026", "through 2030": a deadline or a span inside a document, not the document's period
_DEADLINE = re.compile(r"\b(?:by|through|until|till|before|after|since)\s+(?:the\s+end\s+of\s+)?"
                       r"(?:(?:FY|fiscal(?:\s+year)?)\s*'?)?(?:(?:19|20)\d{2}\s*(?:-|to|and)\s*)?$", re.IGNORECASE)
@dataclass(frozen=True)
class Asked:
    """What a question names of its document."""

    organisations: tuple[str, ...] = ()  # core names (cards.core_name) of the organisations matched
    years: tuple[int, ...] = ()  # fiscal years named ("FY2018", "fiscal 2018", "Q2 2023")
    bare_years: tuple[int, ...] = ()  # years named alone ("in 2022"): a period or only a date
    quarter: int | None = None
    kinds: tuple[str, ...] = ()
    latest: bool = False
    fiscal: bool = False  # it writes "FY" or "fiscal": its quarter is the organisation's own
    calendar: bool = False  # it writes "calendar": the calendar's quarter
    ended: str = ""  # ISO date (or year and month) of a period end it names: "the quarter ended July 1, 2023"
    unmatched: tuple[str, ...] = ()  # names it gives an owner of ("Microsoft's") that no card's organisation is
    half: int | None = None  # the half-year it names ("H1 FY2023", "first half of 2023"): 1 or 2
    ahead: bool = False  # it asks what is expected of its period ("forecasting for FY2023"), which the year before's filing says


def _year(text: str) -> int:
    value = int(text)
    return value + 2000 if value < 100 else value


def asked_periods(question: str) -> tuple[tuple[int, ...], tuple[int, ...], int | None]:
    """(fiscal years, bare years, quarter) a question names.

    >>> asked_periods("What is the FY2017 - FY19 average capex?"), asked_periods("revenue in Q2 of FY2023")
    (((2017, 2019), (), None), ((2023,), (), 2))
    >>> asked_periods("in the second quarter of 2023"), asked_periods("as of 2022")
    (((2023,), (), 2), ((), (2022,), None))
    >>> asked_periods("How many pages will NARA digitize by FY 2026?"), asked_periods("from FY21 to FY22")
    (((), (), None), ((2021, 2022), (), None))
    >>> asked_periods("As of FY2023Q1, why did it raise guidance?")
    ((2023,), (), 1)
    """
    years, quarter = [], None
    for found in re.finditer(r"\b(?:FY|fiscal(?:\s+year)?)\s*'?((?:19|20)\d{2}|\d{2})(?=\b|Q[1-4]\b)", question,
                             re.IGNORECASE):
        if not _DEADLINE.search(question[:found.start()]):
            years.append(_year(found.group(1)))
    found = re.search(r"(?:\b|(?<=\d))Q([1-4])\b|\b([1-4])Q\b|\b(first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+quarter\b",
                      question, re.IGNORECASE)
    if found:
        quarter = int(found.group(1) or found.group(2) or _ORDINAL[found.group(3).lower()])
        near = re.search(r"(?:Q[1-4]|[1-4]Q|quarter)(?:\s+of)?(?:\s+(?:FY|fiscal(?:\s+year)?))?\s*'?((?:19|20)\d{2})\b",
                         question, re.IGNORECASE)
        if near:
            years.append(int(near.group(1)))
    named = set(years)
    bare = [int(found.group(1)) for found in re.finditer(r"(?<![\w$.,])((?:19|20)\d{2})(?![\w%])", question)
            if int(found.group(1)) not in named and not _DEADLINE.search(question[:found.start()])]
    return tuple(sorted(set(years))), tuple(sorted(set(bare))), quarter


_HALF = re.compile(r"(?:\b|(?<=\d))H([12])\b|\b([12])H(?=\b|\d)|\b(first|second|1st|2nd)\s+half\b", re.IGNORECASE)
_AHEAD = re.compile(r"\b(?:forecast\w*|expect\w*|outlook|guidance|project(?:s|ed|ing|ion|ions)|anticipat\w*|plan(?:s|ned)?"
                    r"|target(?:s|ed)?)\b(?:\W+\w+){0,4}?\W+(?:for|in|during|through)\s+(?:the\s+)?(?:FY|fiscal)", re.IGNORECASE)


def asked_half(question: str) -> int | None:
    """The half-year a question names: 1 for "H1", "1H", "first half"; 2 for the second.

    >>> asked_half("short term investments for MGM in H1 FY2023"), asked_half("sales in the second half of 2022")
    (1, 2)
    >>> asked_half("1H23 margin"), asked_half("H2O usage"), asked_half("half of its revenue")
    (1, None, None)
    """
    found = _HALF.search(question)
    if not found:
        return None
    return 1 if (found.group(1) or found.group(2) or found.group(3).lower()) in ("1", "first", "1st") else 2


def asks_ahead(question: str) -> bool:
    """Whether a question asks what is expected of its fiscal period (a forecast, an outlook,
    guidance, a plan): the filing of the year before states it.

    >>> asks_ahead("What production rate changes is Boeing forecasting for FY2023?")
    True
    >>> asks_ahead("What capex does 3M expect in fiscal 2024?"), asks_ahead("What was the FY2023 revenue?")
    (True, False)
    """
    return bool(_AHEAD.search(question))


def asked_organisations(question: str, cards: list[DocumentCard]) -> tuple[str, ...]:
    """Core names of the organisations whose name, file-name alias or ticker the question holds.

    >>> cards = [DocumentCard(organisation="BEST BUY CO., INC.", aliases=("BBY",)), DocumentCard(organisation="Ulta Beauty")]
    >>> asked_organisations("What was Best Buy's FY2023 revenue?", cards), asked_organisations("BBY margin", cards)
    (('bestbuy',), ('bestbuy',))
    >>> asked_organisations("Ulta's sales", cards), asked_organisations("the best margin", cards)
    (('ultabeauty',), ())
    """
    from rag.ingest.ligatures import known_words

    words = _TOKENS.findall(question)
    contracted = _CONTRACTED.findall(question)
    cores = [core_name(w) for w in words]
    grams = {"".join(cores[i:i + n]) for n in range(1, 6) for i in range(len(cores) - n + 1)}
    common = known_words()
    found = []
    for card in cards:
        name = core_name(card.organisation)
        if not name:
            continue
        # an alias matches in any case when it is a word ("ADOBE" from a file name), a short ticker
        # ("KO", "PEP") only as written
        names = {name} | {core_name(a) for a in card.aliases if len(core_name(a)) >= 4}
        first = next((core_name(w) for w in _TOKENS.findall(card.organisation) if core_name(w)), "")
        if len(first) >= 3 and first not in common and not first.isdigit():
            names.add(first)  # "Ulta" for Ulta Beauty, Inc.; not "Best" for Best Buy
        tickers = {a for a in card.aliases if a.isupper() and len(a) <= 5 and a.isalpha()}  # as written
        if any(n and n in grams for n in names) or any(t in words for t in tickers) \
                or any(contracts(w, card.organisation) for w in contracted):
            found.append(name)
    return tuple(dict.fromkeys(found))


# a word written with two capitals or more ("AMEX", "JnJ", "J&J", "AmEx"): a contracted name
_CONTRACTED = re.compile(r"(?<![\w&])(?=\w*[A-Z]\w*[A-Z&])[A-Za-z][A-Za-z&]{2,9}(?![\w&])")


def contracts(word: str, organisation: str) -> bool:
    """Whether `word` is the organisation's name of two words or more contracted: the start of
    each word in turn, at least a letter each ("AMEX" for American Express, "JnJ" and "J&J"
    for Johnson & Johnson, "AMD" for Advanced Micro Devices); "&" in the name may be written
    "&", "n" or left out. A name of one word is never contracted (its start would be any word).

    >>> contracts("AMEX", "American Express Company"), contracts("JnJ", "JOHNSON & JOHNSON"), contracts("J&J", "Johnson & Johnson")
    (True, True, True)
    >>> contracts("EPS", "Eastman Chemical"), contracts("AGM", "General Mills"), contracts("PEP", "PepsiCo, Inc.")
    (False, False, False)
    """
    parts = re.findall(r"[a-z0-9]+|&", LEGAL_WORDS.sub(" ", organisation.lower().replace(" and ", " & ")))
    if len([p for p in parts if p != "&"]) < 2:
        return False

    def fits(rest: str, i: int) -> bool:
        if i == len(parts):
            return not rest
        if parts[i] == "&":
            return any(rest.startswith(a) and fits(rest[len(a):], i + 1) for a in ("&", "n", ""))
        return any(parts[i].startswith(rest[:n]) and fits(rest[n:], i + 1) for n in range(1, len(rest) + 1))
    return fits(word.lower(), 0)


def asked_end(question: str) -> str:
    """The period end a question names, ISO ("2023-07-01") or year and month ("2023-06"); "" when none.

    >>> asked_end("in the quarter ended July 1, 2023?"), asked_end("three months ending June 2023"), asked_end("Q2 2023")
    ('2023-07-01', '2023-06', '')
    """
    found = re.search(r"\b(?:quarter|period|months|weeks|year)\s+end(?:ed|ing)\s+(?:on\s+)?", question, re.IGNORECASE)
    if not found:
        return ""
    after = question[found.end():found.end() + 30]
    if day := iso_date(after):
        return day
    month = re.match(r"([A-Za-z]+)\.?\s+((?:19|20)\d{2})\b", after)
    if month and (day := iso_date(f"{month.group(1)} 1, {month.group(2)}")):
        return day[:7]
    return ""


_NOT_OWNERS = {"what", "who", "which", "how", "where", "when", "why", "that", "it", "this", "there", "here", "let",
               "the", "company", "firm", "group", "year", "quarter", "today", "and", "or", "in", "of", "for", "is",
               "was", "were", "nation", "state", "government", "agency", "department", "ceo", "cfo", "q1", "q2", "q3",
               "q4", "fy"}
_OWNER = re.compile(r"\b([A-Z][A-Za-z&.\-]*(?:\s+[A-Z][A-Za-z&.\-]*){0,3})['’]s?\b(?!['’])")


def unmatched_owners(question: str, cards: list[DocumentCard]) -> tuple[str, ...]:
    """The names a question gives an owner of ("Microsoft's net cash") that match no card's
    organisation (name, alias, ticker), less common words ("What's"): an organisation the
    collection may not hold.

    >>> cards = [DocumentCard(organisation="WALMART INC.", aliases=("WMT",))]
    >>> unmatched_owners("What was Microsoft's net cash? And Walmart's?", cards), unmatched_owners("What's WMT's margin?", cards)
    (('Microsoft',), ())
    """
    found = []
    for match in _OWNER.finditer(question):
        name = match.group(1)
        words = [w for w in name.split() if w.lower().strip(".") not in _NOT_OWNERS]
        if not words or asked_organisations(name, cards):
            continue
        found.append(" ".join(words))
    return tuple(dict.fromkeys(found))


def asked(question: str, cards: list[DocumentCard]) -> Asked:
    years, bare, quarter = asked_periods(question)
    kinds = tuple(kind for kind, pattern in _KIND_WORDS if re.search(pattern, question, re.IGNORECASE))
    return Asked(asked_organisations(question, cards), years, bare, quarter, kinds, bool(_LATEST.search(question)),
                 fiscal=bool(re.search(r"\bFY|\bfiscal\b", question, re.IGNORECASE)),
                 calendar=bool(re.search(r"\bcalendar\b", question, re.IGNORECASE)), ended=asked_end(question),
                 unmatched=unmatched_owners(question, cards), half=asked_half(question), ahead=asks_ahead(question))
