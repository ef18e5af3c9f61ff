"""The refusal signals that are plain text rules: term coverage, unknown terms, the model's own "no".

    coverage = |terms(q) ∩ terms(p)| / |terms(q)|     (content terms, question words removed)
    unknown  = |terms(q) - vocabulary| / |terms(q)|, 0 below two unknown terms ("Which U.S.
               President signed ...?" where no document says "president" or "signed"; one
               unknown word is as often a paraphrase, like "first" of a text that says "the 1978
               Guidelines")

They are signals, not rules: the decision to refuse (`decision.py`) weighs them with the others in
a model fitted on labelled questions from several domains.
"""
from __future__ import annotations

import re

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


def question_terms(terms: set[str]) -> set[str]:
    return terms - QUESTION_FRAME


def coverage(question: set[str], passage: set[str]) -> float:
    """Share of the question's topic terms found in a passage.

    >>> coverage({"guidelin", "formul"}, {"guidelin", "1978"})
    0.5
    """
    return len(question & passage) / len(question) if question else 0.0


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
