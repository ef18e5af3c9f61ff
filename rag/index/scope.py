"""Which documents a question is about: the organisation, period, form and "latest" it names,
matched against the collection's document cards.

Look-alike filings (one company's 10-Qs of four quarters) share nearly all their text, so a
passage from the neighbouring quarter wins on similarity alone. A question that names its
document ("3M's FY2018 capital expenditure", "Amcor's Q2 FY2023 10-Q", "the latest quarter") is
searched in that document only, and the sources say so. A period the collection does not hold
is not searched elsewhere: the answer names the nearest periods it holds.

Pure: cards in, a `Scope` out; `Retriever.search(sources=...)` does the restricted search.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rag.ingest.cards import DocumentCard, core_name

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
# Kinds of document that each cover one period: a period the collection lacks is worth saying so.
# A plan (FY2022-2026) holds targets for years that are not its own.
PERIODIC_KINDS = {"10-K", "10-Q", "8-K", "20-F", "earnings release", "annual report", "performance report"}


@dataclass(frozen=True)
class Asked:
    """What a question names of its document."""

    organisations: tuple[str, ...] = ()  # core names (cards.core_name) of the organisations matched
    years: tuple[int, ...] = ()  # fiscal years named ("FY2018", "fiscal 2018", "Q2 2023")
    bare_years: tuple[int, ...] = ()  # years named alone ("in 2022"): a period or only a date
    quarter: int | None = None
    kinds: tuple[str, ...] = ()
    latest: bool = False


@dataclass(frozen=True)
class Scope:
    """The documents to search (empty: all) and why; `missing` is a one-line answer when the
    period asked for is not in the collection."""

    sources: tuple[str, ...] = ()
    reason: str = ""
    missing: str = ""


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
        if any(n and n in grams for n in names) or any(t in words for t in tickers):
            found.append(name)
    return tuple(dict.fromkeys(found))


def asked(question: str, cards: list[DocumentCard]) -> Asked:
    years, bare, quarter = asked_periods(question)
    kinds = tuple(kind for kind, pattern in _KIND_WORDS if re.search(pattern, question, re.IGNORECASE))
    return Asked(asked_organisations(question, cards), years, bare, quarter, kinds, bool(_LATEST.search(question)))


def _names(cards: dict[str, DocumentCard], sources) -> str:
    return "; ".join(cards[s].line() or s for s in sources)


def held_for(year: int, quarter: int | None, cards: dict[str, DocumentCard]) -> list[str]:
    """The documents of a fiscal year (and quarter), by the organisation's own naming, else by the
    calendar year its period ends in (a retailer's fiscal 2022 ends in January 2023, and many call
    it FY2023). A year asked without a quarter is about the whole year: its annual documents and
    fourth quarter, not the first three quarters' reports (unless those are all there is).

    >>> cards = {"k": DocumentCard(organisation="U", kind="10-K", fiscal_year=2022, period_end="2023-01-28"),
    ...          "q": DocumentCard(organisation="U", kind="10-Q", fiscal_year=2023, quarter=1)}
    >>> held_for(2022, None, cards), held_for(2023, None, cards), held_for(2023, 1, cards)
    (['k'], ['k'], ['q'])
    """
    def whole_year(card: DocumentCard) -> bool:
        return quarter is None and card.quarter in (None, 4) or quarter is not None and card.quarter == quarter

    for held in ([s for s, c in cards.items() if c.fiscal_year == year and whole_year(c)],
                 [s for s, c in cards.items() if c.period_end[:4] == str(year) and whole_year(c)],
                 [s for s, c in cards.items() if c.fiscal_year == year and quarter is None]):
        if held:
            return held
    return []


def contradicts(ask: Asked, card: DocumentCard) -> str:
    """Why a document cannot be the one the question names ("" when it may be): another
    organisation, or a period that ends before the year asked (a filing cannot report a later year).
    Unknown card fields never contradict.

    >>> ask = Asked(organisations=("3m",), years=(2020,))
    >>> contradicts(ask, DocumentCard(organisation="Amcor plc", kind="10-K", fiscal_year=2020))
    "it is Amcor plc's, and the question names another organisation"
    >>> contradicts(ask, DocumentCard(organisation="3M", kind="10-K", fiscal_year=2018, period_end="2018-12-31"))
    'it covers FY2018, before the FY2020 the question asks for'
    >>> contradicts(ask, DocumentCard(organisation="3M", kind="10-K", fiscal_year=2021)), contradicts(ask, DocumentCard())
    ('', '')
    """
    if not card.identified:
        return ""
    if ask.organisations and core_name(card.organisation) not in ask.organisations:
        return f"it is {card.organisation}'s, and the question names another organisation"
    year = min(ask.years) if ask.years else None
    ended = int(card.period_end[:4]) if card.period_end[:4].isdigit() else card.fiscal_year
    if year is not None and card.fiscal_year is not None and card.fiscal_year < year and (ended or 0) < year:
        return f"it covers {card.period or card.fiscal_year}, before the FY{year} the question asks for"
    return ""


def card_match(ask: Asked, card: DocumentCard, newest: bool = False) -> float | None:
    """Of what the question names of its document (organisation, fiscal year, quarter, form,
    "latest"), the share that this document's card states; None when it names nothing. A range
    of years is about its last (its filing holds the earlier ones as comparatives). `newest`:
    the card is its organisation's newest period in the collection.

    >>> ask = Asked(organisations=("3m",), years=(2017, 2018), kinds=("10-K",))
    >>> card_match(ask, DocumentCard(organisation="3M", kind="10-K", fiscal_year=2018))
    1.0
    >>> card_match(ask, DocumentCard(organisation="3M", kind="10-Q", fiscal_year=2017)), card_match(Asked(), DocumentCard())
    (0.3333333333333333, None)
    """
    named = []
    if ask.organisations:
        named.append(core_name(card.organisation) in ask.organisations)
    if ask.years:
        named.append(card.fiscal_year == max(ask.years))
    if ask.quarter:
        named.append(card.quarter == ask.quarter)
    if ask.kinds:
        named.append(card.kind in ask.kinds)
    if ask.latest:
        named.append(newest)
    return sum(named) / len(named) if named else None


def choose_scope(ask: Asked, cards: dict[str, DocumentCard]) -> Scope:
    """The documents a question is about, by what it names of them (`asked`) and their card
    fields, or all (an empty scope).

    A range of years ("FY2017 - FY2019") is about the latest: its filing holds the earlier years
    as comparatives.

    >>> cards = {"a": DocumentCard(organisation="3M", kind="10-K", fiscal_year=2018),
    ...          "b": DocumentCard(organisation="3M", kind="10-K", fiscal_year=2022),
    ...          "c": DocumentCard(organisation="Amcor plc", kind="10-Q", fiscal_year=2023, quarter=2)}
    >>> scope = lambda question: choose_scope(asked(question, list(cards.values())), cards)
    >>> scope("3M's FY2018 capex?").sources, scope("3M's latest capex?").sources
    (('a',), ('b',))
    >>> scope("3M's FY2015 capex?").missing
    'The documents hold no FY2015 filing of 3M; the nearest they hold: FY2018, FY2022.'
    >>> scope("What is a capex?")
    Scope(sources=(), reason='', missing='')
    """
    identified = {s: c for s, c in cards.items() if c.identified}
    if len(identified) < 2:
        return Scope()
    candidates = list(identified)
    why = []
    if ask.organisations:
        candidates = [s for s in candidates if core_name(identified[s].organisation) in ask.organisations]
        why.append("names " + ", ".join(dict.fromkeys(identified[s].organisation for s in candidates)))
    if ask.kinds:
        kinds = [s for s in candidates if identified[s].kind in ask.kinds]
        if kinds:
            candidates = kinds
            why.append("asks for a " + " or ".join(ask.kinds))
    years = ask.years or ask.bare_years
    several = len({core_name(identified[s].organisation) for s in candidates}) > 1
    if years and several and not ask.organisations:
        years = ()  # a year alone, in a collection of several organisations, does not say whose document
    if years:
        target = max(years)
        held = held_for(target, ask.quarter, {s: identified[s] for s in candidates})
        if held:
            candidates = held
            why.append(f"asks for {'Q%d ' % ask.quarter if ask.quarter else ''}FY{target}")
        elif ask.years and ask.organisations and all(identified[s].kind in PERIODIC_KINDS for s in candidates):
            periods = sorted({identified[s].period for s in candidates if identified[s].period},
                             key=lambda p: (abs(int(p[-4:]) - target), p))[:3]
            who = identified[candidates[0]].organisation if candidates else "it"
            asked_period = f"Q{ask.quarter} FY{target}" if ask.quarter else f"FY{target}"
            return Scope((), "", f"The documents hold no {asked_period} filing of {who}; the nearest they hold: "
                                 f"{', '.join(sorted(periods))}.")
    elif ask.latest and candidates and (ask.organisations or len({core_name(identified[s].organisation)
                                                                   for s in candidates}) == 1):
        newest = max(identified[s].sort_key()[:2] for s in candidates)
        candidates = [s for s in candidates if identified[s].sort_key()[:2] == newest]
        why.append("asks for the latest (" + identified[candidates[0]].period + ")")
    if not why or len(candidates) == len(cards):
        return Scope()
    return Scope(tuple(candidates), f"searched {_names(identified, candidates)}: the question {' and '.join(why)}")
