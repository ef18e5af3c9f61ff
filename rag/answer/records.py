"""What the answer stage gives: the `Answer` with its `Citation`s, and the events of its stream."""
from __future__ import annotations

from dataclasses import dataclass, field

from rag.answer.grounding import SentenceSupport
from rag.records import Passage


@dataclass(frozen=True)
class Citation:
    """A passage the answer cites: its number in the prompt and how well it supports the answer."""

    n: int
    passage: Passage
    support: float


@dataclass
class Answer:
    question: str
    text: str
    refused: bool
    sentences: list[SentenceSupport]
    cited: list[Citation]
    retrieved: list[Passage]
    model: str
    timings: dict
    answerability: float = 0.0  # P(answerable) that the decision read (answerability.py)
    refusal_reason: str = ""
    raw: str = ""
    warnings: list[str] = field(default_factory=list)
    flagged: dict[str, str] = field(default_factory=dict)  # chunk id -> phrase addressing the assistant
    short_answer: str = ""  # the phrase that answers, when the quoted sentence states it
    signals: dict = field(default_factory=dict)  # what the answerability decision read (answerability.py)
    head_probability: float | None = None  # the answerability head's P (heads.py); None without a head
    confidence: str = ""  # that probability in words: "likely in the documents", "not found in the documents"
    scope: str = ""  # which documents were searched and why, when the question names them (index.scope)
    formula: str = ""  # the arithmetic done from cited cells, inputs shown (answer.cells)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "short_answer": self.short_answer,
            "refused": self.refused,
            "citations": [
                {"n": c.n, "chunk_id": c.passage.chunk.chunk_id, "source": c.passage.chunk.source,
                 "section": c.passage.chunk.section_path, "document": c.passage.chunk.card, "page": c.passage.chunk.page, "text": c.passage.chunk.text,
                 "score": round(c.support, 4)}
                for c in self.cited
            ],
            "sentences": [{"text": s.text, "citations": s.citations, "support": s.support, "supported": s.supported}
                          for s in self.sentences],
            "retrieved": [p.to_json() for p in self.retrieved],
            "model": self.model,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "answerability": round(self.answerability, 4),
            "head_probability": None if self.head_probability is None else round(self.head_probability, 4),
            "confidence": self.confidence,
            "signals": self.signals,
            "refusal_reason": self.refusal_reason,
            "raw": self.raw,
            "warnings": self.warnings,
            "flagged": [{"chunk_id": chunk_id, "phrase": phrase} for chunk_id, phrase in self.flagged.items()],
            "scope": self.scope,
            "formula": self.formula,
        }


@dataclass(frozen=True)
class Token:
    """A streamed piece of the model's draft."""

    text: str


@dataclass(frozen=True)
class Notice:
    """A warning for the user, e.g. a question cut to fit the model's context."""

    text: str


@dataclass(frozen=True)
class Final:
    """The checked answer; always the stream's last event."""

    answer: Answer


Event = Token | Notice | Final
