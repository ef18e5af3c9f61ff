"""Judging one answer: is it right, does it cite a gold section. Pure functions."""
from __future__ import annotations

import re
from collections import Counter

from eval.metrics import normalize_answer
from rag.records import SECTION_SEPARATOR

CORRECT_RECALL = 0.75


def answer_recall(prediction: str, reference: str) -> float:
    """Share of the reference's tokens (SQuAD-normalised, with multiplicity) present in the answer.

    Long generated answers are not penalised for extra words, short reference facts must appear:
    >>> answer_recall("The first Guidelines were formulated in 1978.", "1978")
    1.0
    """
    ref = Counter(normalize_answer(reference).split())
    pred = Counter(normalize_answer(prediction).split())
    return sum((ref & pred).values()) / sum(ref.values()) if ref else 0.0


def is_correct(prediction: str, references: tuple[str, ...] | list[str]) -> bool:
    """Right when some reference is at least 75% contained in the answer (lists must be nearly complete)."""
    return any(answer_recall(prediction, ref) >= CORRECT_RECALL for ref in references)


_NUMBERING = re.compile(r"^(?:(?:chapter|section|part|article|item|goal)\s+)?(?:\d+(?:\.\d+)*|[ivxlc]+|[a-z])"
                        r"[.):]?\s+", re.IGNORECASE)


def heading_title(heading: str) -> str:
    """A heading without its number: "1 Background to the Revision" -> "background to the revision".

    >>> heading_title("Section 2. Outline"), heading_title("Part IV Budget"), heading_title("2019 in review")
    ('outline', 'budget', '2019 in review')
    """
    text = " ".join(heading.split()).lower()
    stripped = _NUMBERING.sub("", text, count=1)
    return stripped if stripped and not text[:4].isdigit() else text


def _same_heading(part: str, gold: str) -> bool:
    return part == gold or heading_title(part) == heading_title(gold)


def section_matches(section_path: str, gold: str) -> bool:
    """A gold section names the innermost heading or a trailing part of the path, with or without
    its number.

    >>> section_matches("Chapter 3 › Section 1 Significance › 1 Maintenance", "1 Maintenance")
    True
    >>> section_matches("Chapter 3 › 1 Background to the Revision", "Background to the Revision")
    True
    >>> section_matches("Chapter 3 › 1 Background to the Revision", "Background")
    False
    """
    path = [" ".join(part.split()).lower() for part in section_path.split(SECTION_SEPARATOR.strip())]
    wanted = [" ".join(part.split()).lower() for part in gold.split(SECTION_SEPARATOR.strip())]
    if not wanted or len(wanted) > len(path):
        return False
    return all(_same_heading(p, w) for p, w in zip(path[-len(wanted):], wanted))


def cites_gold(cited_sections: list[str], gold: tuple[str, ...] | list[str]) -> bool:
    return any(section_matches(s, g) for s in cited_sections for g in gold)
