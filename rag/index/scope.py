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

from dataclasses import dataclass

from rag.index.asked import Asked
from rag.ingest.cards import DocumentCard, core_name

# Kinds of document that each cover one period: a period the collection lacks is worth saying so.
# A plan (FY2022-2026) holds targets for years that are not its own.
PERIODIC_KINDS = {"10-K", "10-Q", "8-K", "20-F", "earnings release", "annual report", "performance report"}


@dataclass(frozen=True)
class Scope:
    """The documents to search (empty: all) and why; `missing` is a one-line answer when the
    period asked for is not in the collection."""

    sources: tuple[str, ...] = ()
    reason: str = ""
    missing: str = ""
    first: tuple[str, ...] = ()  # of `sources`, those whose best passage is read first (`newest`)


def _names(cards: dict[str, DocumentCard], sources) -> str:
    return "; ".join(cards[s].line() or s for s in sources)


def quarter_held(year: int, quarter: int, cards: dict[str, DocumentCard], hows=("fiscal", "file name", "calendar")
                 ) -> list[str]:
    """The documents whose period reads as that quarter in one of `hows` (the readings a question
    allows, `DocumentCard.readings`); those that read so in the most ways when several do (the
    file "2023 Q1 NVDA.pdf", calendar Q1 2023 too, wins "Q1 2023" over NVIDIA's Q1 FY2023).

    >>> cards = {"a": DocumentCard(kind="10-Q", fiscal_year=2024, quarter=1, period_end="2023-04-30", file_period="2023 Q1"),
    ...          "b": DocumentCard(kind="10-Q", fiscal_year=2023, quarter=1, period_end="2022-05-01", file_period="2022 Q1")}
    >>> quarter_held(2023, 1, cards), quarter_held(2023, 1, cards, ("fiscal",)), quarter_held(2024, 1, cards)
    (['a'], ['b'], ['a'])
    """
    ways = {s: sum(r.year == year and r.quarter == quarter and r.how in hows for r in c.readings())
            for s, c in cards.items()}
    most = max(ways.values(), default=0)
    return [s for s, n in ways.items() if n and n == most]


def held_for(year: int, quarter: int | None, cards: dict[str, DocumentCard], ask: Asked = Asked()) -> list[str]:
    """The documents of a year (and quarter). A quarter matches any reading of a document's
    period the question allows: its fiscal quarter, its file name's, the calendar's (`quarter_held`;
    "FY" in the question asks for the fiscal reading first, "calendar" for the calendar's). A year
    asked without a quarter is about the whole year: its annual documents and fourth quarter, not
    the first three quarters' reports (unless those are all there is). Any reading matches: the
    organisation's own fiscal year, the file name's ("2023Q4"), and, unless the question writes
    "FY" or "fiscal", the calendar year its period ends in (a retailer's fiscal 2022 ends in
    January 2023, and many call it 2023). Which of them answers is the search's and the fact
    routes' choice (`answer.route`), not a guess here.

    >>> cards = {"k": DocumentCard(organisation="U", kind="10-K", fiscal_year=2022, period_end="2023-01-28"),
    ...          "q": DocumentCard(organisation="U", kind="10-Q", fiscal_year=2023, quarter=1)}
    >>> held_for(2022, None, cards), held_for(2023, None, cards), held_for(2023, 1, cards)
    (['k'], ['k'], ['q'])
    >>> cards["e"] = DocumentCard(organisation="U", kind="8-K", fiscal_year=2023)
    >>> held_for(2023, None, cards), held_for(2023, None, cards, Asked(years=(2023,), fiscal=True))
    (['k', 'e'], ['e'])
    >>> cards["r"] = DocumentCard(organisation="U", kind="earnings release", fiscal_year=2022, quarter=4, file_period="2023 Q4")
    >>> held_for(2023, None, cards, Asked(years=(2023,), fiscal=True))  # the file name's reading too
    ['e', 'r']
    """
    if quarter is not None:
        if ask.calendar:
            return quarter_held(year, quarter, cards, ("calendar",))
        if ask.fiscal:
            return quarter_held(year, quarter, cards, ("fiscal",)) or quarter_held(year, quarter, cards, ("file name",))
        return quarter_held(year, quarter, cards)

    def whole_year(card: DocumentCard) -> bool:
        return card.quarter in (None, 4)

    def file_year(card: DocumentCard) -> bool:
        return any(r.how == "file name" and r.year == year and r.quarter in (None, 4) for r in card.readings())

    def calendar_year(card: DocumentCard) -> bool:
        return not ask.fiscal and card.period_end[:4] == str(year)

    readings = [s for s, c in cards.items() if whole_year(c) and (c.fiscal_year == year or file_year(c)
                                                                  or calendar_year(c))]
    for held in (readings, [s for s, c in cards.items() if c.fiscal_year == year]):
        if held:
            return held
    return []


def ended_held(ended: str, cards: dict[str, DocumentCard]) -> list[str]:
    """The documents whose period ends on the date named (within a week: a 52-53-week quarter
    ends on a Saturday), or in the month named.

    >>> cards = {"a": DocumentCard(period_end="2023-07-01"), "b": DocumentCard(period_end="2023-04-01")}
    >>> ended_held("2023-06-30", cards), ended_held("2023-04", cards), ended_held("2022-12-31", cards)
    (['a'], ['b'], [])
    """
    from datetime import date

    held = []
    for source, card in cards.items():
        if not card.period_end:
            continue
        if len(ended) == 7:
            held += [source] if card.period_end[:7] == ended else []
        elif abs((date.fromisoformat(card.period_end) - date.fromisoformat(ended)).days) <= 7:
            held.append(source)
    return held


def _held_line(card: DocumentCard, ask: Asked) -> str:
    """A document's period in the question's own terms, the other readings beside it."""
    ended = f"quarter ended {card.ended()}" if card.quarter and card.ended() else card.ended()
    if ask.fiscal or not card.file_period:
        return ", ".join(p for p in (card.period, ended) if p)
    return f"{card.file_period} ({', '.join(p for p in (card.period, ended) if p)})"


def _asked_period(ask: Asked, year: int) -> str:
    """The period asked for, as the question writes it: "Q3 FY2023", "calendar Q3 2023", "Q3 2023", "H1 FY2023"."""
    quarter = f"Q{ask.quarter} " if ask.quarter else f"H{ask.half} " if ask.half else ""
    if ask.fiscal or not (ask.quarter or ask.half):
        return f"{quarter}FY{year}"
    return f"{'calendar ' if ask.calendar else ''}{quarter}{year}"


def _missing(ask: Asked, what: str, held: list[DocumentCard], year: int | None = None) -> str:
    """The answer when the collection holds no document of the period asked: what it holds of
    that organisation, nearest first, in the question's terms."""
    def distance(card: DocumentCard) -> int:
        wanted = (year or 0) * 4 + (ask.quarter or 4)
        return min((abs(r.year * 4 + (r.quarter or 4) - wanted) for r in card.readings()), default=99)

    nearest = sorted(sorted(held, key=distance)[:3], key=lambda c: c.sort_key()) if year else held[:3]
    who = held[0].organisation if held else "it"
    lines = "; ".join(dict.fromkeys(_held_line(c, ask) for c in nearest if _held_line(c, ask)))
    return f"The documents hold no {what} of {who}; the nearest they hold: {lines}."


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
    latest = max((r.year for r in card.readings()), default=None)
    if year is not None and card.fiscal_year is not None and latest is not None and latest < year:
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
    readings = card.readings() if ask.years or ask.quarter else ()
    if ask.years:
        named.append(any(r.year == max(ask.years) for r in readings))
    if ask.quarter:
        named.append(any(r.quarter == ask.quarter and (not ask.years or r.year == max(ask.years)) for r in readings))
    if ask.kinds:
        named.append(card.kind in ask.kinds)
    if ask.latest:
        named.append(newest)
    return sum(named) / len(named) if named else None


def _by_period(ask: Asked, years: tuple[int, ...], cards: dict[str, DocumentCard]) -> tuple[list[str], str, str]:
    """(the documents of the period asked, why, "") or, when the organisation named holds no
    document of that period, ([], "", the answer that says so)."""
    periodic = ask.organisations and all(c.kind in PERIODIC_KINDS for c in cards.values())
    if ask.ended:
        held = ended_held(ask.ended, cards)
        if held:
            return held, f"asks for the period ended {cards[held[0]].ended()}", ""
        return (([], "", _missing(ask, f"period ended {ask.ended}", list(cards.values()))) if periodic
                else (list(cards), "", ""))
    target = max(years)
    quarter = ask.quarter or (2 if ask.half == 1 else None)  # a first half is reported with the second quarter
    held = held_for(target, quarter, cards, ask)
    if held:
        return held, f"asks for {_asked_period(ask, target)}", ""
    if ask.ahead and ask.years and (before := held_for(target - 1, None, cards, ask)):
        return before, f"asks what is expected of FY{target}, which the FY{target - 1} filings state", ""
    if ask.years and periodic:
        return [], "", _missing(ask, _asked_period(ask, target) + " filing", list(cards.values()), target)
    return list(cards), "", ""


def choose_scope(ask: Asked, cards: dict[str, DocumentCard], mentioned=lambda name: False) -> Scope:
    """The documents a question is about, by what it names of them (`asked`) and their card
    fields, or all (an empty scope).

    A range of years ("FY2017 - FY2019") is about the latest: its filing holds the earlier years
    as comparatives. An owner the question names that is no card's organisation and that the
    documents never mention (`mentioned`, the index's vocabulary) is said not to be held, in a
    collection of filings: a number from another company's filing would be a guess.

    >>> cards = {"a": DocumentCard(organisation="3M", kind="10-K", fiscal_year=2018),
    ...          "b": DocumentCard(organisation="3M", kind="10-K", fiscal_year=2022),
    ...          "c": DocumentCard(organisation="Amcor plc", kind="10-Q", fiscal_year=2023, quarter=2)}
    >>> from rag.index.asked import asked
    >>> scope = lambda question: choose_scope(asked(question, list(cards.values())), cards)
    >>> scope("3M's FY2018 capex?").sources, scope("3M's latest capex?").sources
    (('a',), ('b',))
    >>> scope("3M's FY2015 capex?").missing
    'The documents hold no FY2015 filing of 3M; the nearest they hold: FY2018; FY2022.'
    >>> scope("What is a capex?") == Scope(), scope("How does 3M report its capex?").first  # its newest filing first
    (True, ('b',))
    >>> scope("What was Microsoft's FY2018 capex?").missing
    'The documents hold no filing of Microsoft; they hold filings of 3M, Amcor plc.'
    """
    identified = {s: c for s, c in cards.items() if c.identified}
    if len(identified) < 2:
        return Scope()
    candidates = list(identified)
    absent = [name for name in ask.unmatched if not mentioned(name)]
    if absent and not ask.organisations and all(c.kind in PERIODIC_KINDS for c in identified.values()):
        held = ", ".join(dict.fromkeys(c.organisation for c in sorted(identified.values(), key=lambda c: c.organisation)))
        return Scope((), "", f"The documents hold no filing of {absent[0]}; they hold filings of {held}.")
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
    if ask.ended or years:
        candidates, named, missing = _by_period(ask, years, {s: identified[s] for s in candidates})
        if missing:
            return Scope((), "", missing)
        why += [named] if named else []
    elif ask.latest and candidates and (ask.organisations or len({core_name(identified[s].organisation)
                                                                   for s in candidates}) == 1):
        newest = max(identified[s].sort_key()[:2] for s in candidates)
        candidates = [s for s in candidates if identified[s].sort_key()[:2] == newest]
        why.append("asks for the latest (" + identified[candidates[0]].period + ")")
    if not why or len(candidates) == len(cards):
        return Scope()
    timeless = not (years or ask.ended or ask.quarter or ask.half or ask.latest or ask.kinds)
    first = newest_filings({s: identified[s] for s in candidates}) if ask.organisations and timeless else ()
    return Scope(tuple(candidates), f"searched {_names(identified, candidates)}: the question {' and '.join(why)}",
                 first=first)


def newest_filings(cards: dict[str, DocumentCard]) -> tuple[str, ...]:
    """An organisation's newest annual report and its newest filing of any kind: what a question
    that names no period is about ("How much does Pfizer expect to pay …?", "Are Best Buy's
    margins historically consistent?" is read in the latest 10-K, which holds the years before).
    On FinanceBench, each question naming a company and no period (7, both parts) is about one of
    these two.

    >>> newest_filings({"k19": DocumentCard(kind="10-K", fiscal_year=2019), "k23": DocumentCard(kind="10-K", fiscal_year=2023),
    ...         "q24": DocumentCard(kind="10-Q", fiscal_year=2024, quarter=2)})
    ('k23', 'q24')
    """
    annual = [s for s, c in cards.items() if c.kind in ("10-K", "20-F", "annual report")]
    picks = [max(annual, key=lambda s: cards[s].sort_key())] if annual else []
    picks.append(max(cards, key=lambda s: cards[s].sort_key()))
    return tuple(dict.fromkeys(picks))
