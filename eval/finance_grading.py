"""Grading FinanceBench answers, written down so that anyone gets the same marks.

- **Numbers.** A gold answer that is a number (or leads with one: "$1577.00", "1.9%", "0.83") is
  matched by any number in the answer shown (the short answer first) that equals it within
  rounding: the gold's own decimals, or 1% relative, whichever is looser. Units may differ by a
  factor of a thousand (millions against billions or thousands) or of a hundred (a ratio against
  a per cent). Signs are compared as magnitudes: a statement shows capital expenditure as
  "(1,577)", the gold as "$1577.00".
- **Text.** A short gold answer (at most MAX_KEY_WORDS content words) passes when the answer holds
  at least KEY_SHARE of its content words (stemmed, as the BM25 index stems them).
- **Hand.** A longer gold answer (an explanation) is graded by hand; until it is, it counts as
  ungraded and is reported apart from the automatic grades.
- **Refused.** An answer the tool refused is refused, whatever the gold.
"""
from __future__ import annotations

import re

MAX_KEY_WORDS = 8
KEY_SHARE = 0.6
_NUMBER = re.compile(r"\(?-?\$?\s?\d[\d,]*(?:\.\d+)?\)?\s?%?")
_STOP = {"the", "a", "an", "of", "in", "and", "or", "to", "for", "is", "was", "are", "were", "its", "it", "by", "on",
         "as", "at", "with", "from", "that", "this", "be", "has", "have", "had", "usd", "million", "millions"}


def numbers_in(text: str) -> list[float]:
    """Magnitudes of the numbers written in a text (thousands separators and signs dropped; a
    per cent kept as written).

    >>> numbers_in("Capex was (1,577) million, 12.5% more; FY2018")
    [1577.0, 12.5, 2018.0]
    """
    out = []
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"[^\d.]", "", match.group())
        if digits.strip("."):
            try:
                out.append(abs(float(digits)))
            except ValueError:
                pass
    return out


def gold_number(gold: str) -> float | None:
    """The number a gold answer is, when it is one or leads with one ("$1577.00", "-0.4%", "0.83").

    >>> gold_number("$1577.00"), gold_number("1.9%"), gold_number("Amcor completed acquisitions")
    (1577.0, 1.9, None)
    """
    text = gold.strip()
    if not re.match(r"^[\s(\-$]*\d", text) or len(text.split()) > 4:
        return None
    found = numbers_in(text)
    return found[0] if found else None


def _decimals(gold: str) -> int:
    found = re.search(r"\d+\.(\d+)", gold)
    return len(found.group(1)) if found else 0


def number_matches(value: float, target: float, gold: str) -> bool:
    """Equal within the gold's rounding or 1%, up to a unit factor of 1000 or 100.

    >>> number_matches(1577, 1577.0, "$1577.00"), number_matches(0.0183, 1.83, "1.83%"), number_matches(1.6, 1.9, "1.9%")
    (True, True, False)
    """
    tolerance = max(0.5 * 10 ** -_decimals(gold), 0.01 * abs(target))
    for factor in (1, 1000, 0.001, 100, 0.01):
        if abs(value * factor - target) <= tolerance * (1 if factor == 1 else max(factor, 1)) + 1e-9:
            return True
    return False


def key_terms(text: str, terms) -> set[str]:
    return {t for t in terms(text) if t not in _STOP}


def grade(answer_text: str, short_answer: str, refused: bool, gold: str, terms) -> str:
    """One of "correct", "incorrect", "refused", or "hand" (a long gold answer to grade by hand).

    >>> words = lambda t: set(re.findall(r"[a-z0-9]+", t.lower()))
    >>> grade("$1,577 million (2018) — ...", "$1,577 million (2018)", False, "$1577.00", words)
    'correct'
    >>> grade("Data Center sales grew most.", "", False, "Data Center", words), grade("", "", True, "3", words)
    ('correct', 'refused')
    """
    if refused:
        return "refused"
    target = gold_number(gold)
    if target is not None:
        shown = f"{short_answer} {answer_text}" if short_answer else answer_text
        candidates = numbers_in(short_answer) or numbers_in(shown)
        return "correct" if any(number_matches(v, target, gold) for v in candidates) else "incorrect"
    wanted = key_terms(gold, terms)
    if not wanted or len(wanted) > MAX_KEY_WORDS:
        return "hand"
    have = key_terms(f"{short_answer} {answer_text}", terms)
    return "correct" if len(wanted & have) >= KEY_SHARE * len(wanted) else "incorrect"
