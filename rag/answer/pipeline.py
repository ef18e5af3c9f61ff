"""The grounded answer, as stages over one parsed question (each stage a module of its own):

    parse (question) → scope and search (search) → route (route: a period not held, a value
    across periods, a table cell) → draft (draft) → read (read) → measure and decide (measure,
    decision) → render (compose)

`stream` below is that sequence, in one screen. Components are passed in (retriever, generator,
decision), so the same pipeline serves the CLI, the app and the evaluation, with the real model
or the extractive answerer; `rag.assemble` builds them. Whether to answer is decided in
`decision.py` alone, structured answers included: the stages measure.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from rag.answer import route, search
from rag.answer import sentences as choose
from rag.answer import short_answer
from rag.answer.confirm import confirm_on_page, confirm_text, fact_reading
from rag.answer.compose import decided, text_answer, warnings
from rag.answer.conversation import Turn, standalone_question
from rag.answer.decision import Decision
from rag.answer.draft import stream_draft
from rag.answer.injection import tells_what_to_answer
from rag.answer.measure import signals
from rag.answer.question import Question, parse
from rag.answer.read import read
from rag.answer.search import Prepared
from rag.generate.base import Generator, Prompt
from rag.index.lexical import terms
from rag.index.retrieval import Retriever
from rag.ingest.boilerplate import quotable
from rag.query import Query, is_text
from rag.records import Answer, Event, Final, Found, Notice
from rag.settings import Settings


@dataclass(frozen=True)
class AnswerConfig:
    """What the pipeline needs of `Settings` (see there), plus the prompt's token cap."""

    k: int = Settings.k
    mode: str = Settings.mode
    max_prompt_tokens: int = 2048  # a cap below the context window: prompt length is the main cost on CPU
    max_new_tokens: int = Settings.max_new_tokens
    focus_sentences: int | None = Settings.focus_sentences or None  # None: whole passages
    style: str = Settings.style
    question_first: bool = False  # also state the question before the passages (see prompting.build_messages)


class AnswerPipeline:
    def __init__(self, retriever: Retriever, generator: Generator, decision: Decision,
                 config: AnswerConfig = AnswerConfig(), reader=None):
        self.retriever = retriever
        self.generator = generator
        self.decision = decision
        self.config = config
        self.reader = reader  # a `SentenceReader` that marks the short answer the draft did not give; None: none

    def stream(self, question: str | Query | Question, k: int | None = None, mode: str | None = None) -> Iterator[Event]:
        """The answer's events: notices, the draft's tokens as they come, then one `Final`."""
        question = self.parse(question, k, mode)
        started = time.perf_counter()
        prepared = self.prepare(question)
        timings = {"retrieve_s": time.perf_counter() - started}
        routed = route.structured(question, prepared, self.retriever, self.embed, self.generator.name, timings,
                                  self.decision.cell_threshold)
        if routed.answer is not None and (not (verdict := self.decision.decide(routed.signals)).refused
                                          or routed.signals.missing_period or verdict.reason == routed.signals.unconfirmed):
            timings["total_s"] = timings["first_token_s"] = time.perf_counter() - started
            yield Final(decided(routed.answer, verdict, routed.signals))
            return
        notices = warnings(prepared)
        yield from (Notice(w) for w in notices)
        draft = yield from stream_draft(self.generator, prepared.fitted, self._state_layers(), started, timings)
        shown = self.shown(question, prepared)
        reading = read(question, prepared.fitted, shown, draft.raw, self.generator, self.embed, self.config.style,
                       self.reader)
        measured = signals(question, prepared, draft, reading, shown, self.generator, self.decision,
                           self.retriever.cards(), self.retriever.index.bm25.vocab_dict, routed.cell_match, self.embed)
        measured = replace(measured, **self.confirmed(question, prepared, reading))
        verdict = self.decision.decide(measured)
        timings["total_s"] = time.perf_counter() - started
        yield Final(text_answer(question.text, prepared, draft.raw, reading, measured, verdict, self.generator.name,
                                timings, notices))

    def confirmed(self, question: Question, prepared: Prepared, reading) -> dict:
        """A text answer's number checked by a second route (`confirm`): for a value question
        about a filing's standard line item (or one whose short answer states a number for it),
        the cited filing's statement facts; for any other question asking for a number, the table
        cells of the cited page. In a filing, a number no second route gives (or a quote with no
        number picked out) is refused: the agreement signals for the decision."""
        states_number = any(ch.isdigit() for ch in reading.short)
        by_item = bool(question.item) and (question.value or states_number)
        on_page = not question.item and (question.value or question.answer_type == "quantity")
        if not (by_item or on_page) or not reading.sentences or not reading.sentences[0].citations:
            return {}
        chunk = prepared.fitted.passages[reading.sentences[0].citations[0] - 1].chunk
        facts = self.retriever.facts(chunk.source)
        if by_item:
            checked = confirm_text(reading.short or reading.sentences[0].text, question.item, facts,
                                   self.retriever.cards().get(chunk.source))
        else:
            checked = confirm_on_page(reading.short, question.terms, facts, chunk.page, terms)
        if not checked.agreement:
            return {}
        found = (reading.short or "the numbers of the quoted row").strip()
        facts = (("facts", fact_reading(checked.fact)),
                 ) if checked.fact is not None else ()
        return {"agreement": checked.agreement, "candidates": (("text", found),) + facts,
                "unconfirmed": checked.reason(found, f"the passage quoted ({Path(chunk.source).name})")}

    def parse(self, question: str | Query | Question, k: int | None = None, mode: str | None = None) -> Question:
        """The question parsed once, against this collection's cards (a parsed one as it is)."""
        if isinstance(question, Question):
            return question
        return parse(Query.of(question, k or self.config.k, mode or self.config.mode), self.retriever.cards().values())

    def find(self, question: str | Query | Question) -> Found:
        """The question's scope searched, and the passages that address the assistant set aside."""
        return search.find(self.parse(question), self.retriever, self.embed)

    def prepare(self, question: str | Query | Question, k: int | None = None, mode: str | None = None) -> Prepared:
        """What the model is shown for a question: found (`find`), then ranked and fitted passages."""
        question = self.parse(question, k, mode)
        found = self.find(question)
        ranked = search.rank(question.text, found.passages, self.embed) if found.passages else []
        budget = min(self.config.max_prompt_tokens, self.generator.context_window - self.config.max_new_tokens)
        fitted = search.fit(question.text, found.passages, ranked, self.generator.count_prompt_tokens, budget,
                            self.config.focus_sentences, self.config.question_first)
        return Prepared(found, ranked, fitted)

    def shown(self, question: Question, prepared: Prepared) -> list[choose.ScoredSentence]:
        """The ranked sentences of the passages the model was shown that may be quoted: less any
        that tells the reader what to answer (never evidence, whatever the detectors missed) and
        any of a filing's boilerplate (a signature block, a certification: `ingest.boilerplate`)."""
        if not prepared.fitted.passages:
            return []
        ranked = search.ranked_shown(prepared.fitted, question.text, prepared.ranked, self.embed)
        kinds = [p.chunk.boilerplate for p in prepared.fitted.passages]
        return [s for s in ranked if not tells_what_to_answer(s.text) and quotable(s.text, kinds[s.passage - 1])]

    def _state_layers(self) -> tuple:
        return (self.decision.head.layer,) if self.decision.head else ()

    def warm(self) -> None:
        """Once per loaded model, before the first question: the injection classifier, the copying
        pass's vocabulary table and its fixed prompt's keys and values (1 s that the first answer of
        a process paid)."""
        from rag.answer import injection_model

        injection_model.warm()
        if self.generator.writes_text:
            self.generator.copy_span(short_answer.span_messages("?", "Ready."), "Ready.", fixed=short_answer.SPAN_FIXED,
                                     max_tokens=1)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Passage sentences' vectors, remembered for the index's embedder (see `VectorCache`)."""
        if not texts:
            return np.zeros((0, 1))
        embedder = self.retriever.embedder
        if getattr(self, "_vectors_of", None) is not embedder:
            from embeddings.cache import VectorCache

            self._vectors, self._vectors_of = VectorCache(embedder.embed_passages), embedder
        return self._vectors(texts)

    def standalone(self, question: str | Query, earlier: list[Turn]) -> str:
        """The question as retrieval needs it: a follow-up rewritten against the earlier turns, by
        the language model when the generator writes text (see `conversation`)."""
        question = Query.of(question, self.config.k, self.config.mode).text  # before any work on it
        earlier = [turn for turn in earlier if is_text(turn.question) and is_text(turn.answer)]
        generate = None
        if self.generator.writes_text:
            generate = lambda messages: "".join(self.generator.stream(Prompt(messages, question)))
        return standalone_question(question, earlier, terms, generate, score=self.match_score)

    def match_score(self, question: str) -> float:
        """How well a question matches the documents: the best passage's dense similarity (comparable
        across questions, unlike fused ranks), to choose what a follow-up's "it" stands for."""
        if not self.retriever.size:
            return 0.0
        _, scores = self.retriever.dense(self.retriever.embedder.embed_query(question), 1)
        return float(scores[0]) if len(scores) else 0.0

    def ask(self, question: str | Query, k: int | None = None, mode: str | None = None) -> Answer:
        for event in self.stream(question, k, mode):
            if isinstance(event, Final):
                return event.answer
        raise RuntimeError("the answer stream ended without an answer")
