"""The measurements the decision reads of one answered question (`decision.Signals`): of the
retrieval, of the draft, of the documents the answer cites. Measured once; decided in
`decision.py` alone.
"""
from __future__ import annotations

from pathlib import Path

from rag.answer import sentences as choose
from rag.answer.decision import Decision, Signals
from rag.answer.disagree import disagreeing
from rag.answer.draft import Draft
from rag.answer.prompting import FittedPrompt, build_messages
from rag.answer.question import Question
from rag.answer.read import Reading
from rag.answer.refusal import coverage, question_terms, unknown_share
from rag.answer.search import Prepared
from rag.generate.base import Generator
from rag.index.lexical import terms
from rag.index.asked import Asked
from rag.index.scope import card_match, contradicts
from rag.records import Passage


def retrieval_signals(question_terms_: frozenset[str] | set[str], passages: list[Passage], vocabulary) -> dict:
    """How well the passages shown match the question: best cosine, best share of its topic
    terms in one passage (headings included), and the share of its terms no document holds."""
    q_terms = question_terms(set(question_terms_))
    return {
        "cosine": max((p.scores.get("cosine", 0.0) for p in passages), default=0.0),
        "coverage": max((coverage(q_terms, terms(" ".join(p.chunk.section) + " " + p.chunk.text))
                         for p in passages), default=0.0),
        "unknown": unknown_share(q_terms, vocabulary),
    }


def draft_signals(generator: Generator, text: str, draft: Draft) -> dict:
    """The model's confidence in its draft, and how much the passages raised it (0 without a model)."""
    with_passages = draft.prompt.trace.get("token_logprobs") if draft.prompt is not None else None
    if not draft.raw or not with_passages:
        return {"draft_logprob": 0.0, "gain": 0.0}
    without = generator.continuation_logprobs(build_messages(text, [], []), draft.raw) or []
    mean = lambda values: sum(values) / len(values) if values else 0.0
    return {"draft_logprob": mean(with_passages), "gain": mean(with_passages) - mean(without)}


def documents_cited(ask: Asked, cards: dict, fitted: FittedPrompt, reading: Reading) -> dict:
    """Whether the documents the answer cites (else the first shown) are the one the question
    names: `elsewhere` says why one cannot be ("" when none is; retrieval searches only the
    named documents, so this is the check that it held), `card_match` how much of what the
    question names the first one's card states (None: it names nothing, or there are no cards)."""
    cited = sorted({fitted.passages[n - 1].chunk.source for s in reading.sentences for n in s.citations}) \
        or [p.chunk.source for p in fitted.passages[:1]]
    if not any(cards.get(s) and cards[s].identified for s in cited):
        return {}
    elsewhere = next((f"{Path(source).name}: {why}" for source in cited if reading.sentences
                      and source in cards and (why := contradicts(ask, cards[source]))), "")
    if sum(c.identified for c in cards.values()) < 2:  # not a collection of look-alikes (as choose_scope)
        return {"elsewhere": elsewhere}
    first = next(cards[s] for s in cited if cards.get(s) and cards[s].identified)
    newest = max(c.sort_key()[:2] for c in cards.values() if c.organisation == first.organisation)
    return {"elsewhere": elsewhere, "card_match": card_match(ask, first, first.sort_key()[:2] == newest),
            "filing": first.kind in FILING_KINDS}


FILING_KINDS = frozenset({"10-K", "10-Q", "8-K", "20-F", "earnings release"})  # a company's financial filings


def signals(question: Question, prepared: Prepared, draft: Draft, reading: Reading,
            shown: list[choose.ScoredSentence], generator: Generator, decision: Decision, cards: dict, vocabulary,
            cell_match: float | None = None, embed=None) -> Signals:
    """Everything the decision reads of this question, measured once."""
    fitted = prepared.fitted
    states = draft.prompt.trace.get("last_token_states") if draft.prompt is not None else None
    head = decision.head
    return Signals(**reading.signals, **retrieval_signals(question.terms, list(fitted.passages), vocabulary),
                   **draft_signals(generator, fitted.question, draft),
                   quote_score=shown[0].score if shown else 0.0,
                   head=head.probability(states) if head is not None and states else None,  # a dot product
                   shown=len(fitted.passages), set_aside=len(prepared.flagged), drafted=bool(draft.raw),
                   sentences=len(reading.sentences), cell_match=cell_match,
                   disagree=documents_disagree(question, fitted, reading, shown, embed),
                   **documents_cited(question.asked, cards, fitted, reading))


def documents_disagree(question: Question, fitted: FittedPrompt, reading: Reading,
                       shown: list[choose.ScoredSentence], embed=None) -> tuple:
    """Each document's value when another document states the question's value otherwise (`disagree`)."""
    if not reading.sentences or not reading.sentences[0].citations:
        return ()
    first = reading.sentences[0]
    quoted = next((s for s in shown if s.text == first.text), choose.ScoredSentence(0.0, first.citations[0], first.text))
    q_terms = question_terms(set(question.terms))
    similar = (lambda a, b: float(embed([a])[0] @ embed([b])[0])) if embed is not None else (lambda a, b: 1.0)
    return tuple(disagreeing(reading.short, quoted, shown, [p.chunk.source for p in fitted.passages],
                             question.answer_kind, lambda text: coverage(q_terms, terms(text)), similar))
