"""The grounded-answer pipeline: retrieve, decide, prompt, generate, attribute, refuse.

Components are passed in (retriever, generator, embed function), so the same pipeline serves
the CLI, the app and the evaluation, with the real model or the extractive answerer.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from rag.answer import sentences as choose
from rag.answer.answer_types import expected_answer_type, has_answer_type
from rag.answer.grounding import SentenceSupport, ground_answer
from rag.answer.injection import set_aside
from rag.answer.prompting import FittedPrompt, fit_prompt
from rag.answer.records import Answer, Citation, Event, Final, Notice, Token
from rag.answer.refusal import Calibration, coverage, evidence, model_refused, question_terms, unknown_share
from rag.generate.base import Generator, Prompt
from rag.index.lexical import terms
from rag.index.retrieval import Retriever, check_query
from rag.ingest.paragraphs import split_sentences
from rag.records import Passage
from rag.settings import Settings

REFUSAL_ANSWER = "The documents do not cover this question."


@dataclass(frozen=True)
class AnswerConfig:
    """What the pipeline needs of `Settings` (see there), plus the prompt's token cap."""

    k: int = Settings.k
    mode: str = Settings.mode
    max_prompt_tokens: int = 2048  # a cap below the context window: prompt length is the main cost on CPU
    max_new_tokens: int = Settings.max_new_tokens
    focus_sentences: int | None = Settings.focus_sentences or None  # None: whole passages
    style: str = Settings.style


def render_answer(sentences: list[SentenceSupport]) -> str:
    """Answer text with canonical markers: "Formed in 1978 [1]."."""
    parts = []
    for s in sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        text = s.text
        end = text[-1] if text and text[-1] in ".!?" else ""
        body = text[:-1] if end else text
        parts.append(f"{body} {marks}{end or '.'}" if marks else text)
    return " ".join(parts)


class AnswerPipeline:
    def __init__(self, retriever: Retriever, generator: Generator, config: AnswerConfig = AnswerConfig(),
                 calibration: Calibration | None = None):
        self.retriever = retriever
        self.generator = generator
        self.config = config
        self.calibration = calibration or Calibration.load()

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.retriever.embedder.embed_passages(texts) if texts else np.zeros((0, 1))

    def retrieval_evidence(self, question: str, passages: list[Passage]) -> float:
        if not passages:
            return 0.0
        q_terms = question_terms(terms(question))
        best_cover = max(coverage(q_terms, terms(" ".join(p.chunk.section) + " " + p.chunk.text)) for p in passages)
        top_cosine = max(p.scores.get("cosine", 0.0) for p in passages)
        return evidence(top_cosine, best_cover, self.calibration)

    def rank(self, question: str, passages: list[Passage]) -> list[choose.ScoredSentence]:
        return choose.best_sentences(question, [p.chunk.text for p in passages], self.embed, terms)

    def unknown_terms(self, question: str) -> float:
        return unknown_share(question_terms(terms(question)), self.retriever.index.bm25.vocab_dict)

    def _fit(self, question: str, passages: list[Passage], ranked: list[choose.ScoredSentence]) -> FittedPrompt:
        budget = min(self.config.max_prompt_tokens, self.generator.context_window - self.config.max_new_tokens)
        texts = [p.chunk.text for p in passages]
        return fit_prompt(question, passages, self.generator.count_prompt_tokens, budget,
                          texts=choose.focus(ranked, texts, self.config.focus_sentences))

    def ranked_shown(self, fitted: FittedPrompt, question: str, passages: list[Passage],
                     ranked: list[choose.ScoredSentence]) -> list[choose.ScoredSentence]:
        """The ranking of the passages the model was shown: a prefix of the retrieved ones."""
        if fitted.question == question:
            return choose.within(ranked, len(fitted.passages))
        return self.rank(fitted.question, list(fitted.passages))

    def stream(self, question: str, k: int | None = None, mode: str | None = None) -> Iterator[Event]:
        k = k or self.config.k
        mode = mode or self.config.mode
        question = check_query(question, k, mode)
        started = time.perf_counter()
        retrieved = self.retriever.search(question, k=k, mode=mode)
        timings = {"retrieve_s": time.perf_counter() - started}
        passages, flagged = set_aside(retrieved)
        score = self.retrieval_evidence(question, passages)
        ranked = self.rank(question, passages) if passages else []
        fitted = self._fit(question, passages, ranked)
        warnings = []
        if flagged:
            warnings.append(f"{len(flagged)} passage(s) set aside: they address the assistant "
                            f"({'; '.join(repr(v) for v in flagged.values())})")
            yield Notice(warnings[-1])
        if fitted.question_truncated:
            warnings.append("the question was too long for the model's context and was truncated")
            yield Notice(warnings[-1])

        raw, reason = "", ""
        gen_started = time.perf_counter()
        if not fitted.passages:
            reason = "the passages found address the assistant, not the reader" if flagged else "no passages retrieved"
        elif score < self.calibration.threshold:
            reason = f"retrieval evidence {score:.2f} below the calibrated threshold {self.calibration.threshold:.2f}"
        elif (unknown := self.unknown_terms(question)) > self.calibration.unknown_limit:
            reason = f"{unknown:.0%} of the question's terms occur in no document"
        else:
            prompt = Prompt(fitted.messages, fitted.question, fitted.passages, fitted.texts)
            for piece in self.generator.stream(prompt):
                if not raw:
                    timings["first_token_s"] = time.perf_counter() - started
                raw += piece
                yield Token(piece)
            if raw:
                timings["decode_s"] = time.perf_counter() - started - timings["first_token_s"]
        timings["generate_s"] = time.perf_counter() - gen_started
        timings.setdefault("first_token_s", time.perf_counter() - started)

        sentences: list[SentenceSupport] = []
        if raw and not reason:
            if model_refused(raw) and score < self.calibration.strong:
                reason = "the model found no answer in the passages"
            elif model_refused(raw):
                sentences = choose.overrule(self.ranked_shown(fitted, question, passages, ranked))
            else:
                sentences = ground_answer(raw, fitted.question,
                                          [split_sentences(t) for t in fitted.texts], terms, self.embed)
                if not any(s.supported for s in sentences):
                    reason = "no sentence of the answer is supported by the passages"
                elif self.config.style == "quote":
                    sentences = choose.quote(self.ranked_shown(fitted, question, passages, ranked), sentences,
                                             self.embed)
        if not raw and not reason:
            reason = "the model gave no answer"
        kind = expected_answer_type(question)
        if sentences and not reason and not has_answer_type(" ".join(s.text for s in sentences), kind):
            reason = f"the question asks for a {kind} and the passages' answer gives none"
        timings["total_s"] = time.perf_counter() - started
        answer = self._finish(question, fitted, retrieved, raw, sentences, reason, score, timings, warnings)
        answer.flagged = flagged
        yield Final(answer)

    def _finish(self, question, fitted, passages, raw, sentences, reason, score, timings, warnings) -> Answer:
        refused = bool(reason)
        cited: list[Citation] = []
        if not refused:
            best: dict[int, float] = {}
            for s in sentences:
                for n in s.citations:
                    best[n] = max(best.get(n, 0.0), s.support)
            cited = [Citation(n, fitted.passages[n - 1], best[n]) for n in sorted(best)]
        return Answer(
            question=question,
            text=REFUSAL_ANSWER if refused else render_answer(sentences),
            refused=refused,
            sentences=[] if refused else sentences,
            cited=cited,
            retrieved=passages,
            model=self.generator.name,
            timings=timings,
            evidence=score,
            refusal_reason=reason,
            raw=raw,
            warnings=warnings,
        )

    def ask(self, question: str, k: int | None = None, mode: str | None = None) -> Answer:
        for event in self.stream(question, k, mode):
            if isinstance(event, Final):
                return event.answer
        raise RuntimeError("the answer stream ended without an answer")
