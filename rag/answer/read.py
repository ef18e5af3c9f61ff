"""The read stage: the model's draft read against the passages it was shown: grounded sentence
by sentence, the quote chosen, and the short answer taken from the quoted evidence (the draft's
phrase, a phrase the model copies from the evidence, or the span reader's), with the draft's
signals for the decision.
"""
from __future__ import annotations

from typing import NamedTuple

from rag.answer import sentences as choose
from rag.answer import short_answer
from rag.answer.answer_types import has_answer_type, is_time_answer
from rag.answer.grounding import ground_answer
from rag.answer.prompting import FittedPrompt
from rag.answer.question import Question
from rag.answer.refusal import model_refused
from rag.generate.base import Generator
from rag.index.lexical import terms
from rag.ingest.paragraphs import split_sentences
from rag.records import SentenceSupport


class Reading(NamedTuple):
    sentences: list[SentenceSupport]  # what the answer would show
    short: str  # the short answer, when the quoted evidence states it
    signals: dict  # the draft's signals, by `Signals` field name


def read(question: Question, fitted: FittedPrompt, shown: list[choose.ScoredSentence], raw: str,
         generator: Generator, embed, style: str, reader=None) -> Reading:
    """The sentences to show, the short answer, and the draft's signals."""
    refused = float(model_refused(raw)) if raw else 0.0
    signals = {"model_refused": refused, "support": 0.0, "short_ok": 0.0, "type_missing": 0.0}
    if not raw:
        return Reading([], "", signals)
    if refused:
        sentences, phrase = choose.overrule(shown), ""  # shown only if the decision overrules the model
    else:
        grounded = ground_answer(raw, fitted.question, [split_sentences(t) for t in fitted.texts], terms, embed)
        signals["support"] = max((s.support for s in grounded), default=0.0)
        # the extractive answerer's draft is a document sentence, not an answer to cut short
        phrase = short_answer.candidate(raw) if generator.writes_text else ""
        if style == "quote":
            sentences = choose.quote(shown, grounded, embed)
        else:
            sentences = grounded if any(s.supported for s in grounded) else []
    evidence_text = " ".join(s.text for s in sentences)
    short = copied = ""
    if style == "quote" and sentences:
        short = short_answer.accept(phrase, evidence_text, question.text)
        if not short and not refused and generator.writes_text:
            copied = copied_phrase(question.text, raw, evidence_text, generator)
            whole = short_answer.carries_draft(copied, short_answer.draft_sentence(raw), question.text, terms) \
                or is_time_answer(copied, question.text)
            short = copied if whole else ""
        span = reader.read(question.text, [sentences[0].text])[0] if reader is not None and not short \
            and not refused else None
        if span is not None:  # the span reader marks the short answer the draft gave none of
            signals["reader_margin"] = span.margin
            short = span.span if span.margin > 0 else ""
    # a stated phrase is evidence of an answer even when it is too narrow to show (as calibrated)
    signals["short_ok"] = float(bool(short or copied))
    kind = question.answer_type
    signals["type_missing"] = float(bool(kind) and not has_answer_type(f"{short} {evidence_text}", kind))
    return Reading(sentences, short, signals)


def copied_phrase(question: str, raw: str, evidence_text: str, generator: Generator) -> str:
    """The draft's answer phrase, copied by the model from the quoted evidence (copy_span)."""
    draft = short_answer.draft_sentence(raw)
    span, logprob = generator.copy_span(short_answer.span_messages(question, draft), draft,
                                        fixed=short_answer.SPAN_FIXED)
    return short_answer.from_copy(span, logprob, evidence_text, question)
