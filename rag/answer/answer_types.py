"""The kind of answer a question asks for, when its wording says so, and whether a text has one.

A question that asks "in which year", "on what date", "how many" or "how much" is answered only
by a text that holds a year, a date or a quantity: a sentence without one is not the answer, however
close its topic (question classification, as in Li and Roth, "Learning Question Classifiers",
COLING 2002, reduced to the types a pattern can check). A bare "when" is not typed: it asks as often
for a condition ("in peacetime") as for a date, and "how long" or "how large" are often
answered in words.
"""
from __future__ import annotations

import re

YEAR, DATE, QUANTITY = "year", "date", "quantity"

_QUESTION_TYPES = (
    (YEAR, re.compile(r"\b(which|what)\s+year\b", re.I)),
    (DATE, re.compile(r"\b(which|what)\s+(date|day|month)\b", re.I)),
    (QUANTITY, re.compile(r"\bhow\s+(many|much)\b", re.I)),
)

_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)s?\b")
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DATE = re.compile(rf"\b({_MONTHS})\.?\s+\d{{1,2}}\b|\b\d{{1,2}}\s+({_MONTHS})\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b", re.I)
# other ways a text says when: a month or season, a century or decade, an era ("the Meiji era"), "ago"
_TIME_NAMED = re.compile(rf"\b(?:{_MONTHS}|spring|summer|autumn|winter|monday|tuesday|wednesday|thursday|friday|"
                         r"saturday|sunday)\b|\b\d{1,2}(?:st|nd|rd|th)\b|\bcentur(?:y|ies)\b|\bdecades?\b|\b\d0s\b"
                         r"|\b(?:era|period|dynasty|ago|BC|BCE|AD|CE)\b", re.I)
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                 "hundred|hundreds|thousand|thousands|million|millions|billion|billions|trillion|dozen|dozens|"
                 "half|once|twice|single|double|triple")
_QUANTITY = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I)


def expected_answer_type(question: str) -> str | None:
    """YEAR, DATE or QUANTITY when the question's wording asks for one, else None.

    >>> expected_answer_type("In which year was the treaty signed?"), expected_answer_type("When was it signed?")
    ('year', None)
    >>> expected_answer_type("How many troops are stationed there?")
    'quantity'
    """
    for kind, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None


_HOW_MEASURED = re.compile(r"\bhow\s+(?:long|old|far|big|large|high|often|fast|tall|heavy)\b", re.I)


def answer_kind(question: str, typed: str | None) -> str | None:
    """The kind of value any answer must hold: the `typed` kind (`expected_answer_type`), else
    DATE for a "when" question, QUANTITY for "how long" and the like (a passage stating no year
    cannot say when; the type veto stays with the typed kind alone).

    >>> answer_kind("When were the first Guidelines formulated?", None), answer_kind("Why 1978?", None)
    ('date', None)
    >>> answer_kind("How long is the mean incubation period?", None)
    'quantity'
    """
    return typed or (DATE if _WHEN.match(question) else None) \
        or (QUANTITY if _HOW_MEASURED.search(question) else None)


def has_answer_type(text: str, kind: str | None) -> bool:
    """Whether `text` holds something of `kind` (always true for an untyped question).

    >>> has_answer_type("The Guidelines were formulated in 1978.", YEAR), has_answer_type("It is the cornerstone.", YEAR)
    (True, False)
    >>> has_answer_type("More than seventeen years have passed.", QUANTITY)
    True
    """
    if kind == YEAR:
        return bool(_YEAR.search(text))
    if kind == DATE:
        return bool(_DATE.search(text) or _YEAR.search(text) or _TIME_NAMED.search(text))
    if kind == QUANTITY:
        return bool(_QUANTITY.search(text))
    return True


_WHEN = re.compile(r"^\s*(?:and\s+|but\s+|so\s+)?when\b", re.I)
_TIME_WORDS = re.compile(r"\b(in|on|by|since|from|until|to|and|the|of|early|late|mid|end|beginning|"
                         r"spring|summer|autumn|fall|winter|year|years)\b|[-–,.\s]", re.I)


def is_time_answer(phrase: str, question: str) -> bool:
    """Whether `phrase` is only a time ("1978", "in March 1997", "1990-1995") and the question
    asks "when": then the phrase is the whole answer, however much more the draft sentence says.

    A bare "when" is not typed (see above): a condition never passes here, because the phrase
    must be a date or a year and nothing else.

    >>> is_time_answer("1978", "When were the first Guidelines formulated?")
    True
    >>> is_time_answer("in September 1997", "When were the next ones developed?")
    True
    >>> is_time_answer("1978 Guidelines", "When were they formulated?"), is_time_answer("1978", "Why 1978?")
    (False, False)
    """
    if not _WHEN.match(question) or not (_YEAR.search(phrase) or _DATE.search(phrase)):
        return False
    rest = _YEAR.sub(" ", _DATE.sub(" ", phrase))
    rest = re.sub(r"\b\d{1,2}(st|nd|rd|th)?\b", " ", rest)
    rest = re.sub(rf"\b({_MONTHS})\b", " ", rest, flags=re.I)
    return not _TIME_WORDS.sub("", rest)
