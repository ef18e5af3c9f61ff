"""The grounded-answer pipeline: retrieve, decide, prompt, generate, attribute, refuse.

Components are passed in (retriever, generator, embed function), so the same pipeline serves
the CLI, the app and the evaluation, with the real model or the extractive answerer.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .answer_types import expected_answer_type, has_answer_type
from .extractive import best_sentences
from .generators import Generator, Prompt
from .grounding import SentenceSupport, ground_answer
from .lexical import tokenize
from .paragraphs import split_sentences
from .prompting import FittedPrompt, fit_prompt
from .records import Passage
from .refusal import Calibration, coverage, evidence, model_refused, question_terms, unknown_share
from .retrieval import Retriever, check_query

REFUSAL_ANSWER = "The documents do not cover this question."


@dataclass(frozen=True)
class AnswerConfig:
    k: int = 4
    mode: str = "hybrid"
    max_prompt_tokens: int = 2048  # a cap below the context window: prompt length is the main cost on CPU
    max_new_tokens: int = 48  # the draft only has to point at the answer (measured: same quality as 96)
    focus_sentences: int | None = 2  # show each passage's best sentences only (None: whole passages)
    style: str = "quote"  # "quote": the passage sentence the model's answer points to; "generated": its words


@dataclass
class Answer:
    question: str
    text: str
    refused: bool
    sentences: list[SentenceSupport]
    cited: list[tuple[int, Passage, float]]  # (number in the prompt, passage, best support)
    retrieved: list[Passage]
    model: str
    timings: dict
    evidence: float = 0.0
    refusal_reason: str = ""
    raw: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "citations": [
                {"n": n, "chunk_id": p.chunk.chunk_id, "source": p.chunk.source, "section": p.chunk.section_path,
                 "page": p.chunk.page, "text": p.chunk.text, "score": round(score, 4)}
                for n, p, score in self.cited
            ],
            "sentences": [{"text": s.text, "citations": s.citations, "support": s.support, "supported": s.supported}
                          for s in self.sentences],
            "retrieved": [p.to_json() for p in self.retrieved],
            "model": self.model,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "evidence": round(self.evidence, 4),
            "refusal_reason": self.refusal_reason,
            "raw": self.raw,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Event:
    """A streamed piece ("token"), a warning, or the finished answer ("answer")."""

    kind: str
    text: str = ""
    answer: Answer | None = None


def terms(text: str) -> set[str]:
    return set(tokenize([text])[0])


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

    def rank(self, question: str, passages, memo: dict | None = None) -> list[tuple[float, int, str]]:
        """`best_sentences` of the passages, computed once per answer (focus and quote share it)."""
        key = (question, tuple(p.chunk.chunk_id for p in passages))
        if memo is None or key not in memo:
            ranked = best_sentences(question, [p.chunk.text for p in passages], self.embed, terms)
            if memo is None:
                return ranked
            memo[key] = ranked
        return memo[key]

    def focus(self, question: str, passages: list[Passage], memo: dict | None = None) -> list[str]:
        """Each passage cut to its sentences that best match the question, in document order.

        A 0.5B model answers better from fewer distracting sentences, and a shorter prompt is
        faster on a CPU. The cut passage is still cited whole.
        """
        keep = self.config.focus_sentences
        sentences = [split_sentences(p.chunk.text) for p in passages]
        if not keep or not passages:
            return [p.chunk.text for p in passages]
        ranked = self.rank(question, passages, memo)
        chosen: dict[int, set[str]] = {}
        for _, n, sentence in ranked:
            if len(chosen.setdefault(n, set())) < keep:
                chosen[n].add(sentence)
        return [" ".join(s for s in sentences[j] if s in chosen.get(j + 1, set())) or passages[j].chunk.text
                for j in range(len(passages))]

    def unknown_terms(self, question: str) -> float:
        return unknown_share(question_terms(terms(question)), self.retriever.index.bm25.vocab_dict)

    def _fit(self, question: str, passages: list[Passage], memo: dict | None = None) -> FittedPrompt:
        budget = min(self.config.max_prompt_tokens, self.generator.context_window - self.config.max_new_tokens)
        return fit_prompt(question, passages, self.generator.count_prompt_tokens, budget,
                          texts=self.focus(question, passages, memo))

    def stream(self, question: str, k: int | None = None, mode: str | None = None) -> Iterator[Event]:
        k = k or self.config.k
        mode = mode or self.config.mode
        question = check_query(question, k, mode)
        started = time.perf_counter()
        passages = self.retriever.search(question, k=k, mode=mode)
        timings = {"retrieve_s": time.perf_counter() - started}
        score = self.retrieval_evidence(question, passages)
        memo: dict = {}
        fitted = self._fit(question, passages, memo)
        warnings = []
        if fitted.question_truncated:
            warnings.append("the question was too long for the model's context and was truncated")
            yield Event("warning", warnings[-1])

        raw, reason = "", ""
        gen_started = time.perf_counter()
        if not fitted.passages:
            reason = "no passages retrieved"
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
                yield Event("token", piece)
            if raw:
                timings["decode_s"] = time.perf_counter() - started - timings["first_token_s"]
        timings["generate_s"] = time.perf_counter() - gen_started
        timings.setdefault("first_token_s", time.perf_counter() - started)

        sentences: list[SentenceSupport] = []
        if raw and not reason:
            if model_refused(raw) and score < self.calibration.strong:
                reason = "the model found no answer in the passages"
            elif model_refused(raw):
                sentences = self.overrule_refusal(fitted, memo)
            else:
                sentences = ground_answer(raw, fitted.question,
                                          [split_sentences(t) for t in fitted.texts], terms, self.embed)
                if not any(s.supported for s in sentences):
                    reason = "no sentence of the answer is supported by the passages"
                elif self.config.style == "quote":
                    sentences = self.quote(fitted, sentences, memo)
        if not raw and not reason:
            reason = "the model gave no answer"
        kind = expected_answer_type(question)
        if sentences and not reason and not has_answer_type(" ".join(s.text for s in sentences), kind):
            reason = f"the question asks for a {kind} and the passages' answer gives none"
        timings["total_s"] = time.perf_counter() - started
        yield Event("answer", answer=self._finish(question, fitted, passages, raw, sentences, reason, score,
                                                 timings, warnings))

    def overrule_refusal(self, fitted: FittedPrompt, memo: dict | None = None) -> list[SentenceSupport]:
        """Evidence this strong means the answer is there: take the best extractive sentence."""
        ranked = self.rank(fitted.question, fitted.passages, memo)
        if not ranked:
            return []
        score, n, sentence = ranked[0]
        return [SentenceSupport(sentence, [n], round(score, 4), True, [], {n: sentence})]

    def quote(self, fitted: FittedPrompt, generated: list[SentenceSupport],
              memo: dict | None = None) -> list[SentenceSupport]:
        """The passage sentence that best answers the question and agrees with the model's answer.

        score(s) = 0.5 * extractive score(question, s) + 0.5 * cos(e(answer), e(s)): the model's
        answer steers the choice, the answer shown is the document's own sentence.
        """
        candidates = self.rank(fitted.question, fitted.passages, memo)
        if not candidates:
            return generated
        answer = " ".join(s.text for s in generated if s.supported)
        vectors = self.embed([answer] + [c[2] for c in candidates])
        agreement = vectors[1:] @ vectors[0]
        score, n, sentence = max(((0.5 * c[0] + 0.5 * float(a), c[1], c[2]) for c, a in zip(candidates, agreement)),
                                 key=lambda item: item[0])
        support = max((s.support for s in generated), default=0.0)
        return [SentenceSupport(sentence, [n], round(max(support, score), 4), True, [n], {n: sentence})]

    def _finish(self, question, fitted, passages, raw, sentences, reason, score, timings, warnings) -> Answer:
        refused = bool(reason)
        cited: list[tuple[int, Passage, float]] = []
        if not refused:
            best: dict[int, float] = {}
            for s in sentences:
                for n in s.citations:
                    best[n] = max(best.get(n, 0.0), s.support)
            cited = [(n, fitted.passages[n - 1], best[n]) for n in sorted(best)]
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
            if event.kind == "answer":
                return event.answer
        raise RuntimeError("the answer stream ended without an answer")
