"""The grounded-answer pipeline: prepare (retrieve, set aside, rank, fit the prompt) → draft →
read (ground the draft, choose the quote and the short answer) → `Signals` → `Decision.decide` →
one frozen `Answer`.

Components are passed in (retriever, generator, decision), so the same pipeline serves the CLI,
the app and the evaluation, with the real model or the extractive answerer; `rag.assemble` builds
them. Whether to answer is decided in `decision.py` alone: this module measures.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from rag.answer import collection, short_answer
from rag.answer import sentences as choose
from rag.answer.answer_types import expected_answer_type, has_answer_type, is_time_answer
from rag.answer.conversation import Turn, standalone_question
from rag.answer.decision import REFUSAL_ANSWER, Decision, Signals, Verdict
from rag.answer.grounding import ground_answer
from rag.answer.injection import set_aside, tells_what_to_answer
from rag.answer.prompting import FittedPrompt, build_messages, fit_prompt
from rag.answer.refusal import coverage, model_refused, question_terms, unknown_share
from rag.generate.base import Generator, Prompt
from rag.index.lexical import terms
from rag.index.retrieval import Retriever
from rag.index.scope import asked, card_match, choose_scope, contradicts
from rag.ingest.paragraphs import split_sentences
from rag.query import Query, is_text
from rag.records import Answer, Citation, Event, Final, Found, Notice, Passage, SentenceSupport, Token
from rag.render import render_answer
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
    cell_threshold: float = collection.CELL_THRESHOLD  # a table row's score to answer from its cell


class Prepared(NamedTuple):
    found: Found  # the scope searched, the passages retrieved, fit to answer from, and set aside
    ranked: list[choose.ScoredSentence]
    fitted: FittedPrompt
    scope = property(lambda self: self.found.scope)
    retrieved = property(lambda self: self.found.retrieved)
    passages = property(lambda self: self.found.passages)
    flagged = property(lambda self: self.found.flagged)


class Draft(NamedTuple):
    raw: str  # the model's draft ("" when it wrote nothing or was shown nothing)
    prompt: Prompt | None  # what it was shown, with the trace the signals read


class Reading(NamedTuple):
    sentences: list[SentenceSupport]  # what the answer would show
    short: str  # the short answer, when the quoted evidence states it
    signals: dict  # the draft's signals, by `Signals` field name


class AnswerPipeline:
    def __init__(self, retriever: Retriever, generator: Generator, decision: Decision,
                 config: AnswerConfig = AnswerConfig(), reader=None):
        self.retriever = retriever
        self.generator = generator
        self.decision = decision
        self.config = config
        self.reader = reader  # a `SentenceReader` that marks the short answer the draft did not give; None: none

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

    def rank(self, question: str, passages: list[Passage]) -> list[choose.ScoredSentence]:
        return choose.best_sentences(question, [p.chunk.text for p in passages], self.embed, terms)

    def _fit(self, question: str, passages: list[Passage], ranked: list[choose.ScoredSentence]) -> FittedPrompt:
        budget = min(self.config.max_prompt_tokens, self.generator.context_window - self.config.max_new_tokens)
        texts = [p.chunk.text for p in passages]
        return fit_prompt(question, passages, self.generator.count_prompt_tokens, budget,
                          texts=choose.focus(ranked, texts, self.config.focus_sentences),
                          question_first=self.config.question_first)

    def ranked_shown(self, fitted: FittedPrompt, question: str, passages: list[Passage],
                     ranked: list[choose.ScoredSentence]) -> list[choose.ScoredSentence]:
        """The ranking of the passages the model was shown: a prefix of the retrieved ones."""
        if fitted.question == question:
            return choose.within(ranked, len(fitted.passages))
        return self.rank(fitted.question, list(fitted.passages))

    def retrieval_signals(self, question: str, passages: list[Passage]) -> dict:
        q_terms = question_terms(terms(question))
        return {
            "cosine": max((p.scores.get("cosine", 0.0) for p in passages), default=0.0),
            "coverage": max((coverage(q_terms, terms(" ".join(p.chunk.section) + " " + p.chunk.text))
                             for p in passages), default=0.0),
            "unknown": unknown_share(q_terms, self.retriever.index.bm25.vocab_dict),
        }

    def draft_signals(self, question: str, raw: str, prompt: Prompt | None) -> dict:
        """The model's confidence in its draft, and how much the passages raised it (0 without a model)."""
        with_passages = prompt.trace.get("token_logprobs") if prompt is not None else None
        if not raw or not with_passages:
            return {"draft_logprob": 0.0, "gain": 0.0}
        without = self.generator.continuation_logprobs(build_messages(question, [], []), raw) or []
        mean = lambda values: sum(values) / len(values) if values else 0.0
        return {"draft_logprob": mean(with_passages), "gain": mean(with_passages) - mean(without)}

    def find(self, query: Query) -> Found:
        """The question's scope searched, and the passages that address the assistant set aside."""
        scope = choose_scope(query.text, self.retriever.cards())
        retrieved = [] if scope.missing else self.retriever.search(query, k=query.k, mode=query.mode,
                                                                   sources=scope.sources)
        return Found(scope, retrieved, *set_aside(retrieved, self.embed))

    def prepare(self, question: str | Query, k: int | None = None, mode: str | None = None) -> Prepared:
        """What the model is shown for a question: found (`find`), then ranked and fitted passages."""
        query = Query.of(question, k or self.config.k, mode or self.config.mode)
        found = self.find(query)
        ranked = self.rank(query.text, found.passages) if found.passages else []
        return Prepared(found, ranked, self._fit(query.text, found.passages, ranked))

    def _from_structure(self, question: str, prepared: Prepared, timings: dict) -> tuple[Answer | None, float | None]:
        """An answer the collection's structure gives without the model: a period the documents do
        not hold (one line naming the nearest they do), or a number read from a cited table cell;
        else None and, for a value question, its best cell's score (a signal for the decision)."""
        scope, fitted = prepared.scope, prepared.fitted
        if scope.missing:
            verdict = self.decision.decide(Signals(missing_period=scope.missing))
            return Answer(question, scope.missing, verdict.refused, [], [], [], self.generator.name, timings,
                          refusal_reason=verdict.reason, scope=scope.missing), None
        if collection.is_trend_question(question):
            return self._across_documents(question, prepared, timings), None
        if not fitted.passages or not collection.is_value_question(question):
            return None, None
        deeper = [p for p in self.retriever.search(collection.row_query(question), k=max(self.config.k, collection.ROW_DEPTH),
                                                   mode=self.config.mode, sources=scope.sources)
                  if p.chunk.chunk_id not in prepared.flagged]
        found = collection.cell_answer(question, deeper, self.embed, terms, self.retriever.cards(), threshold=0.0)
        if found is None or found.score < self.config.cell_threshold:  # the same cell a threshold would read
            return None, found.score if found else 0.0
        sentences = collection.cell_sentences(found)
        text = f"{found.short} — " + render_answer(sentences) + (f" ({found.formula})" if found.formula else "")
        cited = [Citation(n, deeper[n - 1], found.score) for n in sorted({s.citations[0] for s in sentences})]
        return Answer(question, text, False, sentences, cited, deeper, self.generator.name, timings,
                      answerability=found.score, short_answer=found.short, signals=Signals(cell=found.score).recorded(),
                      scope=scope.reason, formula=found.formula, flagged=prepared.flagged,
                      confidence="read from a table" if not found.formula else "computed from table cells"), None

    def _across_documents(self, question: str, prepared: Prepared, timings: dict) -> Answer | None:
        """A value across periods, one per document of the scope, each cited, ordered by period."""
        cards = self.retriever.cards()
        sources = [s for s in (prepared.scope.sources or list(cards)) if s in cards and cards[s].identified]
        granular = collection.trend_granularity(question)  # "quarters": quarterly documents; "years": annual
        if granular:
            sources = [s for s in sources if (cards[s].quarter is not None) == (granular == "quarters")] or sources
        if len(sources) < 2:
            return None
        metric = collection.trend_metric(question)
        found, cited = [], []
        for source in sorted(sources, key=lambda s: cards[s].sort_key()):
            passages = self.retriever.search(metric, k=collection.ROW_DEPTH, mode=self.config.mode, sources=(source,))
            value = collection.value_in(passages, metric, cards[source], self.embed, terms, self.config.cell_threshold)
            if value is None:
                continue
            row = value.rows[0]
            cited.append(Citation(len(cited) + 1, passages[row.passage - 1], value.score))
            found.append(SentenceSupport(f"{cards[source].period or cards[source].line()}: {value.short}",
                                         [len(cited)], round(value.score, 4), True, [len(cited)],
                                         {len(cited): row.line}))
        if len(found) < 2:
            return None
        text = f"{found[0].text.split(': ', 1)[0]} to {found[-1].text.split(': ', 1)[0]}: " + "; ".join(
            f"{s.text} [{s.citations[0]}]" for s in found)
        return Answer(question, text, False, found, cited, [c.passage for c in cited], self.generator.name, timings,
                      answerability=min(c.support for c in cited), signals=Signals(cell=min(c.support for c in cited)).recorded(),
                      scope=prepared.scope.reason or f"searched {len(sources)} documents", confidence="read from the tables")

    def stream(self, question: str | Query, k: int | None = None, mode: str | None = None) -> Iterator[Event]:
        """The answer's events: notices, the draft's tokens as they come, then one `Final`."""
        query = Query.of(question, k or self.config.k, mode or self.config.mode)
        question = query.text
        started = time.perf_counter()
        prepared = self.prepare(query)
        timings = {"retrieve_s": time.perf_counter() - started}
        structured, cell_match = self._from_structure(question, prepared, timings)
        if structured is not None:
            timings["total_s"] = timings["first_token_s"] = time.perf_counter() - started
            yield Final(structured)
            return
        warnings = self.warnings(prepared)
        yield from (Notice(w) for w in warnings)
        draft = yield from self._draft(prepared.fitted, started, timings)
        fitted = prepared.fitted
        shown = self.ranked_shown(fitted, question, prepared.passages, prepared.ranked) if fitted.passages else []
        shown = [s for s in shown if not tells_what_to_answer(s.text)]  # never evidence, whatever the detectors missed
        reading = self._read(question, fitted, shown, draft.raw)
        signals = self.signals(question, prepared, draft, reading, shown, cell_match)
        verdict = self.decision.decide(signals)
        timings["total_s"] = time.perf_counter() - started
        yield Final(self._finish(question, prepared, draft.raw, reading, signals, verdict, timings, warnings))

    @staticmethod
    def warnings(prepared: Prepared) -> list[str]:
        """What the user is told beside the answer: passages set aside, a question cut to fit."""
        warnings = []
        if prepared.flagged:
            warnings.append(f"{len(prepared.flagged)} passage(s) set aside: they address the assistant "
                            f"({'; '.join(repr(v) for v in prepared.flagged.values())})")
        if prepared.fitted.question_truncated:
            warnings.append("the question was too long for the model's context and was truncated")
        return warnings

    def _draft(self, fitted: FittedPrompt, started: float, timings: dict):
        """The model's draft, streamed as `Token`s (a generator: its return value is the `Draft`)."""
        raw, prompt = "", None
        gen_started = time.perf_counter()
        if fitted.passages:
            head = self.decision.head
            prompt = Prompt(fitted.messages, fitted.question, fitted.passages, fitted.texts,
                            state_layers=(head.layer,) if head else ())
            for piece in self.generator.stream(prompt):
                if not raw:
                    timings["first_token_s"] = time.perf_counter() - started
                raw += piece
                yield Token(piece)
            if raw:
                timings["decode_s"] = time.perf_counter() - started - timings["first_token_s"]
        timings["generate_s"] = time.perf_counter() - gen_started
        timings.setdefault("first_token_s", time.perf_counter() - started)
        return Draft(raw, prompt)

    def signals(self, question: str, prepared: Prepared, draft: Draft, reading: Reading,
                shown: list[choose.ScoredSentence], cell_match: float | None = None) -> Signals:
        """Everything the decision reads of this question, measured once."""
        fitted, prompt = prepared.fitted, draft.prompt
        states = prompt.trace.get("last_token_states") if prompt is not None else None
        head = self.decision.head
        return Signals(**reading.signals, **self.retrieval_signals(question, list(fitted.passages)),
                       **self.draft_signals(fitted.question, draft.raw, prompt),
                       quote_score=shown[0].score if shown else 0.0,
                       head=head.probability(states) if head is not None and states else None,  # a dot product
                       shown=len(fitted.passages), set_aside=len(prepared.flagged), drafted=bool(draft.raw),
                       sentences=len(reading.sentences), cell_match=cell_match,
                       **self.documents_cited(question, fitted, reading))

    def documents_cited(self, question: str, fitted: FittedPrompt, reading: Reading) -> dict:
        """Whether the documents the answer cites (else the first shown) are the one the question
        names: `elsewhere` says why one cannot be ("" when none is; retrieval searches only the
        named documents, so this is the check that it held), `card_match` how much of what the
        question names the first one's card states (None: it names nothing, or there are no cards)."""
        cards = self.retriever.cards()
        cited = sorted({fitted.passages[n - 1].chunk.source for s in reading.sentences for n in s.citations}) \
            or [p.chunk.source for p in fitted.passages[:1]]
        if not any(cards.get(s) and cards[s].identified for s in cited):
            return {}
        ask = asked(question, list(cards.values()))
        elsewhere = next((f"{Path(source).name}: {why}" for source in cited if reading.sentences
                          and source in cards and (why := contradicts(ask, cards[source]))), "")
        if sum(c.identified for c in cards.values()) < 2:  # not a collection of look-alikes (as choose_scope)
            return {"elsewhere": elsewhere}
        first = next(cards[s] for s in cited if cards.get(s) and cards[s].identified)
        newest = max(c.sort_key()[:2] for c in cards.values() if c.organisation == first.organisation)
        return {"elsewhere": elsewhere, "card_match": card_match(ask, first, first.sort_key()[:2] == newest)}

    def _read(self, question: str, fitted: FittedPrompt, shown: list[choose.ScoredSentence], raw: str) -> Reading:
        """The sentences to show, the short answer, and the draft's signals."""
        refused = float(model_refused(raw)) if raw else 0.0
        signals = {"model_refused": refused, "support": 0.0, "short_ok": 0.0, "type_missing": 0.0}
        if not raw:
            return Reading([], "", signals)
        if refused:
            sentences, phrase = choose.overrule(shown), ""  # shown only if the decision overrules the model
        else:
            grounded = ground_answer(raw, fitted.question, [split_sentences(t) for t in fitted.texts], terms, self.embed)
            signals["support"] = max((s.support for s in grounded), default=0.0)
            # the extractive answerer's draft is a document sentence, not an answer to cut short
            phrase = short_answer.candidate(raw) if self.generator.writes_text else ""
            if self.config.style == "quote":
                sentences = choose.quote(shown, grounded, self.embed)
            else:
                sentences = grounded if any(s.supported for s in grounded) else []
        evidence_text = " ".join(s.text for s in sentences)
        short = copied = ""
        if self.config.style == "quote" and sentences:
            short = short_answer.accept(phrase, evidence_text, question)
            if not short and not refused and self.generator.writes_text:
                copied = self._copied(question, raw, evidence_text)
                whole = short_answer.carries_draft(copied, short_answer.draft_sentence(raw), question, terms) \
                    or is_time_answer(copied, question)
                short = copied if whole else ""
            reading = self._span(question, sentences[0].text) if not short and not refused else None
            if reading is not None:
                signals["reader_margin"] = reading.margin
                short = reading.span if reading.margin > 0 else ""
        # a stated phrase is evidence of an answer even when it is too narrow to show (as calibrated)
        signals["short_ok"] = float(bool(short or copied))
        kind = expected_answer_type(question)
        signals["type_missing"] = float(bool(kind) and not has_answer_type(f"{short} {evidence_text}", kind))
        return Reading(sentences, short, signals)

    def _span(self, question: str, sentence: str):
        """The span reader's reading of the quoted sentence (None without a reader): it marks the
        short answer the draft gave none of. It does not choose the sentence: the trained reader
        choosing it quoted the gold less often than the formula (eval/results/reader.md)."""
        return self.reader.read(question, [sentence])[0] if self.reader is not None else None

    def _copied(self, question: str, raw: str, evidence_text: str) -> str:
        """The draft's answer phrase, copied by the model from the quoted evidence (copy_span)."""
        draft = short_answer.draft_sentence(raw)
        span, logprob = self.generator.copy_span(short_answer.span_messages(question, draft), draft,
                                                 fixed=short_answer.SPAN_FIXED)
        return short_answer.from_copy(span, logprob, evidence_text, question)

    def _finish(self, question: str, prepared: Prepared, raw: str, reading: Reading, signals: Signals,
                verdict: Verdict, timings: dict, warnings: list[str]) -> Answer:
        refused, fitted = verdict.refused, prepared.fitted
        cited: list[Citation] = []
        if not refused:
            best: dict[int, float] = {}
            for s in reading.sentences:
                for n in s.citations:
                    best[n] = max(best.get(n, 0.0), s.support)
            cited = [Citation(n, fitted.passages[n - 1], best[n]) for n in sorted(best)]
        short = "" if refused else reading.short
        return Answer(
            question=question,
            text=REFUSAL_ANSWER if refused else (f"{short} — " if short else "") + render_answer(reading.sentences),
            refused=refused,
            sentences=[] if refused else reading.sentences,
            cited=cited,
            retrieved=prepared.retrieved,
            model=self.generator.name,
            timings=timings,
            answerability=verdict.probability,
            refusal_reason=verdict.reason,
            raw=raw,
            warnings=warnings,
            flagged=prepared.flagged,
            short_answer=short,
            signals=signals.recorded(),
            head_probability=signals.head,
            confidence=verdict.confidence,
            scope=prepared.scope.reason,
        )

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
