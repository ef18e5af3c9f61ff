"""Citations and support: which passage backs each answer sentence, and how well.

Small models omit, garble or invent citation markers, so markers are only a hint: every answer
sentence is scored against every passage and attributed to the passages that support it.

Support of answer sentence `a` by passage `p`::

    N(a)          = content terms of a (stemmed, stopwords out) that are not in the question
                    (all of a's terms if it only restates the question)
    lexical(a, p) = |N(a) ∩ terms(p)| / |N(a)|
    semantic(a,p) = max over sentences s of p of cos(e(a), e(s))      (e = the embedding model)
    support(a, p) = 0.5 * lexical(a, p) + 0.5 * semantic(a, p)

A sentence is supported when max_p support(a, p) >= SUPPORT_THRESHOLD. The lexical half
catches invented facts (a name or number found in no passage); the semantic half accepts
paraphrase. The threshold is checked against hand-labelled sentences in the evaluation.
"""
from __future__ import annotations

import re
from typing import Callable

import numpy as np

from rag.ingest.paragraphs import split_sentences
from rag.records import SentenceSupport

SUPPORT_THRESHOLD = 0.55
CITATION_FLOOR = 0.35
SHORT_ANSWER_TERMS = 4  # a model-given marker is kept only if its passage supports the sentence this much

_MARKER = re.compile(
    r"\[\s*(?:passages?|sources?|docs?|documents?|p)?\s*#?(\d+(?:\s*(?:,|;|and|-|–)\s*#?\d+)*)\s*\]"
    r"|【\s*(\d+)\s*】|\[\^(\d+)\]",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+")


def parse_markers(sentence: str, passage_count: int) -> tuple[str, list[int]]:
    """Strip citation markers; return the clean text and the valid passage numbers named.

    >>> parse_markers("Formed in 1978 [2][9], see [Passage 1, 2].", 3)
    ('Formed in 1978, see.', [2, 1])
    """
    found: list[int] = []
    for m in _MARKER.finditer(sentence):
        spec = m.group(1) or m.group(2) or m.group(3)
        numbers = [int(n) for n in _NUMBER.findall(spec)]
        if m.group(1) and re.search(r"\d\s*[-–]\s*\d", spec) and len(numbers) == 2:
            numbers = list(range(numbers[0], numbers[1] + 1))
        found.extend(n for n in numbers if 1 <= n <= passage_count and n not in found)
    clean = _MARKER.sub("", sentence)
    clean = re.sub(r"\s+([.,;:!?])", r"\1", clean)
    return " ".join(clean.split()), found


def answer_sentences(answer: str) -> list[str]:
    """Sentences of a model answer; markers stay attached to the sentence they follow."""
    text = " ".join(answer.split())
    text = re.sub(r"\s*([.!?])\s*((?:\[[^\]]{1,24}\]|【\d+】)+)", r" \2\1", text)  # "x. [1]" -> "x [1]."
    return [s for s in split_sentences(text) if re.search(r"\w", _MARKER.sub("", s))]


def new_terms(sentence_terms: set[str], question_terms: set[str]) -> set[str]:
    novel = sentence_terms - question_terms
    return novel or sentence_terms


def lexical_support(sentence_terms: set[str], question_terms: set[str], passage_terms: set[str]) -> float:
    """Share of what the sentence adds to the question that the passage contains.

    >>> lexical_support({"guidelin", "1978", "formul"}, {"guidelin", "formul"}, {"1978", "guidelin"})
    1.0
    """
    novel = new_terms(sentence_terms, question_terms)
    return len(novel & passage_terms) / len(novel) if novel else 0.0


def support_matrix(sentence_terms: list[set[str]], question_terms: set[str], passage_terms: list[set[str]],
                   semantic: np.ndarray) -> np.ndarray:
    """support[i, j] of answer sentence i by passage j; `semantic[i, j]` is the best cosine (see module doc)."""
    lexical = np.array([[lexical_support(s, question_terms, p) for p in passage_terms] for s in sentence_terms])
    return 0.5 * lexical.reshape(semantic.shape) + 0.5 * np.clip(semantic, 0.0, 1.0)


def attribute(sentences: list[str], support: np.ndarray, given: list[list[int]],
              closest: list[list[str]] | None = None) -> list[SentenceSupport]:
    """Each sentence's citations: the valid markers the model gave, if their passage supports it,
    else the best-supporting passage. A sentence no passage supports cites nothing."""
    out = []
    for i, text in enumerate(sentences):
        row = support[i] if support.size else np.zeros(0)
        best = int(np.argmax(row)) if row.size else -1
        best_score = float(row[best]) if row.size else 0.0
        kept = [n for n in given[i] if row.size and row[n - 1] >= CITATION_FLOOR]
        supported = best_score >= SUPPORT_THRESHOLD
        citations = kept or ([best + 1] if supported else [])
        quotes = {n: closest[i][n - 1] for n in citations} if closest else {}
        out.append(SentenceSupport(text, citations, round(best_score, 4), supported, given[i], quotes))
    return out


def ground_answer(answer: str, question: str, passage_sentences: list[list[str]],
                  terms: Callable[[str], set[str]], embed: Callable[[list[str]], np.ndarray]) -> list[SentenceSupport]:
    """Split, strip markers, score every sentence against every passage, attribute citations.

    A short answer ("1997") means little alone, so it is embedded together with the question.
    """
    question_terms = terms(question)
    raw = answer_sentences(answer)
    parsed = [parse_markers(s, len(passage_sentences)) for s in raw]
    sentences = [text for text, _ in parsed]
    if not sentences:
        return []
    flat = [s for ps in passage_sentences for s in ps]
    owner = [j for j, ps in enumerate(passage_sentences) for _ in ps]
    probes = [s if len(terms(s)) >= SHORT_ANSWER_TERMS else f"{question} {s}" for s in sentences]
    vectors = embed(probes + flat) if flat else None
    semantic = np.full((len(sentences), len(passage_sentences)), -1.0)
    closest = [["" for _ in passage_sentences] for _ in sentences]
    if vectors is not None:
        cos = vectors[: len(sentences)] @ vectors[len(sentences):].T
        for col, j in enumerate(owner):
            for i in range(len(sentences)):
                if cos[i, col] > semantic[i, j]:
                    semantic[i, j], closest[i][j] = cos[i, col], flat[col]
    passage_terms = [set().union(*(terms(s) for s in ps)) if ps else set() for ps in passage_sentences]
    matrix = support_matrix([terms(s) for s in sentences], question_terms, passage_terms, semantic)
    return attribute(sentences, matrix, [g for _, g in parsed], closest)
