"""Sentence choice: rank the passages' sentences for a question once, then use that ranking to
focus the prompt, quote the answer, or overrule a small model's false refusal. Pure: the
embedding and term functions are passed in.

Sentence score = 0.6 * cos(e(q), e(s)) + 0.4 * coverage(q, s), where coverage is the share of
the question's topic terms found in the sentence (`refusal.coverage`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from rag.records import SentenceSupport
from rag.answer.refusal import coverage, question_terms
from rag.ingest.paragraphs import split_sentences

# How much the model's draft steers the quote. Chosen on the calibration parts (quote holds the
# gold, answerable questions): 0.5 -> 0.25 raised it on COVID-QA 47 -> 48%, SQuAD 2.0 CCT 65 -> 69%,
# XQuAD 76 -> 78% and kept the sample's 100%; 0 (the question alone) was lower than 0.25 on all three.
AGREEMENT = 0.25

Embed = Callable[[list[str]], np.ndarray]
Terms = Callable[[str], set[str]]


@dataclass(frozen=True)
class ScoredSentence:
    score: float
    passage: int  # the passage's number in the prompt, from 1
    text: str


def best_sentences(question: str, passage_texts: list[str], embed: Embed, terms: Terms) -> list[ScoredSentence]:
    """Every sentence of the passages, best first (ties: the earlier passage).

    >>> fake_embed = lambda texts: np.array([[1.0, 0.0]] + [[1.0, 0.0] if "1978" in t else [0.0, 1.0] for t in texts[1:]])
    >>> [s.text for s in best_sentences("When?", ["It rained. It began in 1978."], fake_embed, lambda t: set(t.split()))]
    ['It began in 1978.', 'It rained.']
    """
    candidates = [(j + 1, s) for j, text in enumerate(passage_texts) for s in split_sentences(text)]
    if not candidates:
        return []
    vectors = embed([question] + [s for _, s in candidates])
    cosines = vectors[1:] @ vectors[0]
    q_terms = question_terms(terms(question))
    scored = [ScoredSentence(0.6 * float(c) + 0.4 * coverage(q_terms, terms(s)), n, s)
              for c, (n, s) in zip(cosines, candidates)]
    return sorted(scored, key=lambda item: (-item.score, item.passage))


def within(ranked: list[ScoredSentence], passages: int) -> list[ScoredSentence]:
    """The ranking of the first `passages` passages: a sentence's score does not depend on the others."""
    return [s for s in ranked if s.passage <= passages]


def focus(ranked: list[ScoredSentence], passage_texts: list[str], keep: int | None) -> list[str]:
    """Each passage cut to its `keep` sentences that best match the question, in document order.

    A 0.5B model answers better from fewer distracting sentences, and a shorter prompt is
    faster on a CPU. The cut passage is still cited whole. `keep` None: whole passages.
    """
    if not keep or not passage_texts:
        return list(passage_texts)
    chosen: dict[int, set[str]] = {}
    for s in ranked:
        if len(chosen.setdefault(s.passage, set())) < keep:
            chosen[s.passage].add(s.text)
    return [" ".join(s for s in split_sentences(text) if s in chosen.get(j + 1, set())) or text
            for j, text in enumerate(passage_texts)]


def overrule(ranked: list[ScoredSentence]) -> list[SentenceSupport]:
    """Evidence strong enough to overrule the model's refusal: the best extractive sentence."""
    if not ranked:
        return []
    best = ranked[0]
    return [SentenceSupport(best.text, [best.passage], round(best.score, 4), True, [], {best.passage: best.text})]


def quote(ranked: list[ScoredSentence], generated: list[SentenceSupport], embed: Embed) -> list[SentenceSupport]:
    """The passage sentence that best answers the question and agrees with the model's answer.

    score(s) = (1 - AGREEMENT) * extractive score(question, s) + AGREEMENT * cos(e(answer), e(s)):
    the model's answer steers the choice, the answer shown is the document's own sentence.
    (Not preferred: the sentences that state the draft's short phrase, which hold the gold answer
    less often; docs/measured.md, "Tried and not kept".)
    """
    if not ranked:
        return [s for s in generated if s.supported]
    answer = " ".join(s.text for s in generated if s.supported)
    vectors = embed([answer] + [c.text for c in ranked])
    agreement = vectors[1:] @ vectors[0]
    score, n, sentence = max((((1 - AGREEMENT) * c.score + AGREEMENT * float(a), c.passage, c.text)
                              for c, a in zip(ranked, agreement)),
                             key=lambda item: item[0])
    support = max((s.support for s in generated), default=0.0)
    return [SentenceSupport(sentence, [n], round(max(support, score), 4), True, [n], {n: sentence})]
