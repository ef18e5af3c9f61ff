"""The extractive answerer: no language model, the best sentence of the passages with its citation.

Deterministic and instant: the fallback for machines that cannot run a model and the baseline
of the evaluation. Sentence score = 0.6 * cos(e(q), e(s)) + 0.4 * coverage(q, s), where
coverage is the share of the question's topic terms found in the sentence (refusal.coverage).
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from .generators import Generator, Prompt
from .paragraphs import split_sentences
from .refusal import coverage, question_terms


def best_sentences(question: str, passage_texts: list[str], embed: Callable[[list[str]], np.ndarray],
                   terms: Callable[[str], set[str]]) -> list[tuple[float, int, str]]:
    """(score, passage number from 1, sentence), best first."""
    candidates = [(j + 1, s) for j, text in enumerate(passage_texts) for s in split_sentences(text)]
    if not candidates:
        return []
    vectors = embed([question] + [s for _, s in candidates])
    cosines = vectors[1:] @ vectors[0]
    q_terms = question_terms(terms(question))
    scored = [(0.6 * float(c) + 0.4 * coverage(q_terms, terms(s)), n, s) for c, (n, s) in zip(cosines, candidates)]
    return sorted(scored, key=lambda item: (-item[0], item[1]))


class ExtractiveGenerator(Generator):
    name = "extractive"
    context_window = 1 << 20

    def __init__(self, embed: Callable[[list[str]], np.ndarray], terms: Callable[[str], set[str]]):
        self.embed = embed
        self.terms = terms

    def stream(self, prompt: Prompt) -> Iterator[str]:
        ranked = best_sentences(prompt.question, list(prompt.passage_texts), self.embed, self.terms)
        if ranked:
            _, n, sentence = ranked[0]
            yield f"{sentence} [{n}]"
