"""Grading FinanceBench answers, written down so that anyone gets the same marks.

- **Numbers.** A gold answer that is a number (or leads with one: "$1577.00", "1.9%", "0.83") is
  matched by any number in the answer shown (the short answer first) that equals it within
  rounding: the gold's own decimals, or 1% relative, whichever is looser. A money amount may be in
  other units (a factor of a thousand: millions against billions), a per cent may be written as a
  ratio (a factor of a hundred); a plain number (a ratio, a count) must match as it is. Signs are
  compared as magnitudes: a statement shows capital expenditure as
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
    """Equal within the gold's rounding or 1%; a money amount may be in other units (a factor of a
    thousand: millions against billions), a per cent may be written as a ratio (a factor of 100),
    each then within 1%. A plain number (a ratio, a count) must match as it is.

    >>> number_matches(1577, 1577.0, "$1577.00"), number_matches(0.0183, 1.83, "1.83%"), number_matches(1.6, 1.9, "1.9%")
    (True, True, False)
    >>> number_matches(8738, 8.70, "$8.70"), number_matches(12.83, 0.01, "0.01"), number_matches(545.3, 0.54, "0.54")
    (True, False, False)
    """
    if abs(value - target) <= max(0.5 * 10 ** -_decimals(gold), 0.01 * abs(target)) + 1e-9:
        return True
    factors = (1000, 0.001) if "$" in gold else (100, 0.01) if "%" in gold else ()
    return any(abs(value * f - target) <= 0.01 * abs(target) + 0.5 * 10 ** -_decimals(gold) for f in factors)


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
