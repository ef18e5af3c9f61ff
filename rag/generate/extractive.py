"""The extractive answerer: no language model, the best sentence of the passages with its citation.

Deterministic and instant: the fallback for machines that cannot run a model and the baseline
of the evaluation. The sentence ranking is passed in (`rag.answer.sentences.best_sentences`
with the embedder), so this stage needs nothing of the answer stage.
"""
from __future__ import annotations

from typing import Callable, Iterator

from rag.generate.base import Generator, Prompt


class ExtractiveGenerator(Generator):
    name = "extractive"
    context_window = 1 << 20

    def __init__(self, rank: Callable[[str, list[str]], list]):
        """`rank(question, passage_texts)` gives sentences best first, each with `.passage` and `.text`."""
        self.rank = rank

    def stream(self, prompt: Prompt) -> Iterator[str]:
        ranked = self.rank(prompt.question, list(prompt.passage_texts))
        if ranked:
            yield f"{ranked[0].text} [{ranked[0].passage}]"
