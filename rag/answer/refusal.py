"""When to refuse: evidence from retrieval, from the model's own words, and from answer support.

Retrieval evidence of a question q against its retrieved passages P::

    cosine   = max_p cos(e(q), e(p))
    coverage = max_p |terms(q) ∩ terms(p)| / |terms(q)|     (content terms, question words removed)
    evidence = w * cosine + (1 - w) * coverage

The question is also refused when too many of its topic terms occur nowhere in the documents:
unknown = |terms(q) - vocabulary| / |terms(q)| > unknown_limit, and at least two terms are
unknown ("Which U.S. President signed ...?" where no document says "president" or "signed"; one
unknown word is as often a paraphrase, like "first" in "When were the first Guidelines
formulated?" of a text that says "the 1978 Guidelines"). The question is refused when evidence < threshold, when the model says the passages do not
answer it (unless evidence >= strong: small models refuse answerable questions too, and past
`strong` no calibration question was unanswerable), or when no sentence of its answer is
supported (see grounding.py). `w`, `threshold` and `strong` are calibrated on a question set
by `python -m eval.calibrate` and stored in calibration.json next to this file. Last, an answer
that lacks what a typed question asks for (a year, a date, a quantity) is refused: see
answer_types.py.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")

# Words that frame a question rather than name its topic (stems, as `terms` gives them; the
# tokenizer's stopword list keeps question words and auxiliaries): they are not evidence.
QUESTION_FRAME = {"mani", "much", "year", "name", "describ", "accord", "chapter", "document", "text", "mention",
                  "say", "call", "tell", "give", "explain", "list", "exampl", "kind", "type", "doe", "did", "do",
                  "what", "which", "when", "who", "whom", "whose", "how", "whi", "where", "can", "could", "would",
                  "should", "shall", "may", "might", "must", "besid", "becaus", "befor", "after", "also", "too"}

_MODEL_REFUSAL = re.compile(
    r"(documents?|passages?|text|context)\s+(do(es)?\s+not|don't|doesn't)\s+(say|mention|contain|provide|specify|state|include|answer)"
    r"|not\s+(mentioned|specified|stated|provided|given|found|available|included)\s+in\s+the\s+(passages?|documents?|text|context)"
    r"|(no|not\s+enough)\s+information"
    r"|(cannot|can't|unable\s+to)\s+(answer|determine|find|be\s+determined)"
    r"|there\s+is\s+no\s+mention",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Calibration:
    weight: float = 0.5
    threshold: float = 0.45
    strong: float = 1.01  # evidence above which the model's own refusal is overruled (never, by default)
    unknown_limit: float = 1.01  # share of topic terms absent from every document above which to refuse

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> "Calibration":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(weight=float(data["weight"]), threshold=float(data["threshold"]),
                       strong=float(data.get("strong", cls.strong)),
                       unknown_limit=float(data.get("unknown_limit", cls.unknown_limit)))
        except (OSError, ValueError, KeyError):
            return cls()


def question_terms(terms: set[str]) -> set[str]:
    return terms - QUESTION_FRAME


def coverage(question: set[str], passage: set[str]) -> float:
    """Share of the question's topic terms found in a passage.

    >>> coverage({"guidelin", "formul"}, {"guidelin", "1978"})
    0.5
    """
    return len(question & passage) / len(question) if question else 0.0


def evidence(top_cosine: float, best_coverage: float, calibration: Calibration) -> float:
    return calibration.weight * top_cosine + (1 - calibration.weight) * best_coverage


def model_refused(text: str) -> bool:
    """The model said, in any of the usual ways, that the passages do not answer the question.

    >>> model_refused("The documents do not say."), model_refused("It was formed in 1978 [1].")
    (True, False)
    """
    return bool(_MODEL_REFUSAL.search(text))


MIN_UNKNOWN_TERMS = 2


def unknown_share(question: set[str], vocabulary) -> float:
    """Share of the question's topic terms that no document contains; 0 below two such terms.

    >>> unknown_share({"presid", "sign", "guidelin"}, {"guidelin"}), unknown_share({"first", "guidelin"}, {"guidelin"})
    (0.6667, 0.0)
    """
    unknown = [t for t in question if t not in vocabulary]
    return round(len(unknown) / len(question), 4) if len(unknown) >= MIN_UNKNOWN_TERMS else 0.0
