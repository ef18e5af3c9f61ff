"""Documents that disagree: when another document states the answer's claim with another value
(a year, a date, an amount), the answer says so and cites each, instead of showing one value as
if the documents agreed.

A sentence states "the same claim" when it comes from another document, and both its ranking
score and its share of the question's topic terms are at least RELATIVE of the quoted sentence's
(that share at least MIN_COVERAGE): a long sentence that states the claim among other things
scores lower than a short one that states only it ("The 1978 Guidelines were formulated with a
focus on …" against "The first Guidelines were formulated in 1492."). An amount counts only in
the quoted one's unit ("5.0 days" against "5.2 days"). A document's own sentences about other
years ("the 1997 Guidelines" beside "the 1978 Guidelines") are not a disagreement; two documents
each giving a year for the same question are.

Pure: the quoted sentence, the ranked sentences shown and their documents in; the values out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rag.answer.answer_types import DATE, QUANTITY, YEAR
from rag.answer.sentences import ScoredSentence

RELATIVE = 0.6  # of the quoted sentence's ranking score (sentences.best_sentences)
MIN_COVERAGE = 0.3  # of the question's topic terms (refusal.coverage), whatever the quoted one's
SAME_CLAIM = 0.3  # cosine of the two sentences' embeddings: the same claim with another value, not another subject
_YEAR = re.compile(r"\b(1\d{3}|20\d\d)\b")  # from 1000: a planted "1492" is a year too
# an amount and the word after it, its unit: "5.2 days", "$1,577 million", "34%"
_AMOUNT = re.compile(r"(?<![\w.\[])\$?(\d[\d,]*(?:\.\d+)?)(%|(?![\w\]])\s*([A-Za-z]+)?)")


@dataclass(frozen=True)
class Stated:
    """One document's value for the question, and the passage (numbered from 1) that states it."""

    value: str
    passage: int
    source: str

    def to_json(self) -> dict:
        return {"value": self.value, "passage": self.passage, "source": self.source}


def values_of(text: str, kind: str | None) -> tuple[str, ...]:
    """The values of the question's kind a text states: years for a time, amounts for a number.

    >>> values_of("The Guidelines were formulated in 1978 and revised in 1997.", "date")
    ('1978', '1997')
    >>> values_of("Revenue was $1,577 million, up 4.2%.", "quantity")
    ('1577 million', '4.2%')
    >>> values_of("The mean incubation period is about 5.0 days [3].", "quantity")
    ('5.0 days',)
    """
    if kind in (YEAR, DATE):
        return tuple(dict.fromkeys(_YEAR.findall(text)))
    if kind == QUANTITY:
        return tuple(dict.fromkeys(f"{m.group(1).replace(',', '')}{'%' if m.group(2) == '%' else ''}"
                                   f"{' ' + m.group(3).lower() if m.group(3) else ''}" for m in _AMOUNT.finditer(text)))
    return ()


def _unit(value: str) -> str:
    return value.split(" ", 1)[1] if " " in value else ("%" if value.endswith("%") else "")


def disagreeing(short: str, quoted: ScoredSentence, shown: list[ScoredSentence], sources: list[str],
                kind: str | None, covered=lambda text: 1.0, similar=lambda a, b: 1.0) -> list[Stated]:
    """Each document's value when the documents state different ones for the question: the
    quoted sentence's first (the one the short answer gives), then another document's that
    answers as well and states none of the quoted values; [] when they agree or none other answers.
    `sources[n - 1]` is the document of passage n; `covered(text)` the share of the question's
    topic terms a sentence holds; `similar(a, b)` the cosine of two sentences, which must reach
    SAME_CLAIM: a report that revises "the 2020 Certification Rule" does not disagree with one
    whose Guidelines were "developed in 1997", though both hold a word of the question.

    >>> s = lambda score, n, text: ScoredSentence(score, n, text)
    >>> quoted = s(0.8, 1, "The first Guidelines were formulated in 1492.")
    >>> shown = [quoted, s(0.75, 2, "The first Guidelines were formulated in 1978."), s(0.3, 3, "It opened in 1066.")]
    >>> [x.value for x in disagreeing("1492", quoted, shown, ["note.md", "report.md", "other.md"], "date")]
    ['1492', '1978']
    >>> disagreeing("1492", quoted, shown, ["note.md", "note.md", "other.md"], "date")
    []
    """
    mine = values_of(short, kind) or values_of(quoted.text, kind)
    if not mine or not shown:
        return []
    floor, terms_floor = RELATIVE * max(quoted.score, 0.0), max(MIN_COVERAGE, RELATIVE * covered(quoted.text))
    found = [Stated(mine[0], quoted.passage, sources[quoted.passage - 1])]
    for sentence in shown:
        source = sources[sentence.passage - 1]
        if sentence.score < floor or any(source == f.source for f in found) or covered(sentence.text) < terms_floor \
                or similar(quoted.text, sentence.text) < SAME_CLAIM:
            continue
        theirs = values_of(sentence.text, kind)
        if kind == QUANTITY:  # only amounts in the quoted one's unit ("5.0 days" against "5.2 days")
            theirs = tuple(v for v in theirs if _unit(v) and _unit(v) in {_unit(m) for m in mine})
        if theirs and not set(theirs) & set(mine):
            found.append(Stated(theirs[0], sentence.passage, source))
    return found if len(found) > 1 else []


def disagreement_text(found: list[Stated], markers: bool = True) -> str:
    """ "The documents disagree: 1978 [1] (japan-us-alliance.md), 1492 [2] (note.md)." """
    return "The documents disagree: " + ", ".join(f"{f.value}{f' [{f.passage}]' if markers else ''} "
                                                   f"({Path(f.source).name})" for f in found) + "."
