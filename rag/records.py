"""Typed records that cross module lines: blocks read from files, chunks, retrieved passages, and
the answer with its citations and the events of its stream."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

SECTION_SEPARATOR = " › "


def embedded_text(section: tuple[str, ...], text: str, card: str = "") -> str:
    """What the encoders see of a chunk: its document's card line ("3M · 10-K · FY2018") says which
    of many look-alike documents it comes from, its innermost heading (capped) gives its topic.

    >>> embedded_text(("Results",), "Sales rose.", "3M · 10-K · FY2018").split(chr(10))
    ['3M · 10-K · FY2018', 'Results', 'Sales rose.']
    """
    body = f"{section[-1][:160]}\n{text}" if section else text
    return f"{card}\n{body}" if card else body


@dataclass(frozen=True)
class Block:
    """One heading or paragraph as read from a file, before any repair or merging.

    `level` is the markup depth of a heading (`#` count, `<hN>`, outline depth); 0 for paragraphs.
    `start`/`end` are character offsets in the source text (in the page's text for PDF).
    """

    kind: str  # "heading", "paragraph", or "row" (a table row written with its headers, see ingest.tables)
    text: str
    start: int
    end: int
    level: int = 0
    page: int | None = None


@dataclass(frozen=True)
class Paragraph:
    """A repaired paragraph that knows the section it sits in."""

    text: str
    section: tuple[str, ...]
    start: int
    end: int
    page: int | None = None


@dataclass(frozen=True)
class Chunk:
    """The unit that is embedded, indexed and cited."""

    chunk_id: str
    source: str
    section: tuple[str, ...]
    text: str
    start: int
    end: int
    page: int | None = None
    content_hash: str = ""
    card: str = ""  # the document card's line (see ingest.cards), embedded and indexed with the text
    boilerplate: str = ""  # a signature block, certification, contents, ... (ingest.boilerplate): never quoted

    @property
    def section_path(self) -> str:
        return SECTION_SEPARATOR.join(self.section)

    def embedding_text(self) -> str:
        return embedded_text(self.section, self.text, self.card)

    def to_json(self) -> dict:
        data = asdict(self)
        data["section"] = list(self.section)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Chunk":
        return cls(**{**data, "section": tuple(data["section"])})


@dataclass(frozen=True)
class Passage:
    """A chunk returned by a retriever, with its rank and score in that retrieval."""

    chunk: Chunk
    score: float
    rank: int
    scores: dict = field(default_factory=dict)  # per-mode scores for hybrid results

    def to_json(self) -> dict:
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "chunk_id": self.chunk.chunk_id,
            "source": self.chunk.source,
            "section": self.chunk.section_path,
            "document": self.chunk.card,
            "page": self.chunk.page,
            "text": self.chunk.text,
        }


@dataclass
class SentenceSupport:
    """One sentence of an answer, with the passages that support it (answer.grounding)."""

    text: str  # without markers
    citations: list[int] = field(default_factory=list)  # 1-based passage numbers
    support: float = 0.0
    supported: bool = False
    given: list[int] = field(default_factory=list)  # markers the model wrote, valid ones only
    quotes: dict[int, str] = field(default_factory=dict)  # cited passage -> its sentence closest to this one


@dataclass(frozen=True)
class Citation:
    """A passage the answer cites: its number in the prompt and how well it supports the answer."""

    n: int
    passage: Passage
    support: float


@dataclass(frozen=True)
class Answer:
    """A checked answer (or a refusal with its reason), built once by the pipeline and never changed."""

    question: str
    text: str
    refused: bool
    sentences: list[SentenceSupport]
    cited: list[Citation]
    retrieved: list[Passage]
    model: str
    timings: dict
    answerability: float = 0.0  # P(answerable) that the decision read (answer.decision)
    refusal_reason: str = ""
    raw: str = ""
    warnings: list[str] = field(default_factory=list)
    flagged: dict[str, str] = field(default_factory=dict)  # chunk id -> phrase addressing the assistant
    short_answer: str = ""  # the phrase that answers, when the quoted sentence states it
    signals: dict = field(default_factory=dict)  # what the answerability decision read (answer.decision)
    head_probability: float | None = None  # the answerability head's P (answer.heads); None without a head
    confidence: str = ""  # that probability in words: "likely in the documents", "not found in the documents"
    scope: str = ""  # which documents were searched and why, when the question names them (index.scope)
    formula: str = ""  # the arithmetic done from cited cells, inputs shown (answer.cells)
    candidates: dict = field(default_factory=dict)  # a number's readings by route ("cell", "facts"), when checked
    withheld: dict = field(default_factory=dict)  # a refused text answer's draft: what was read and where (not shown)
    disagreement: list = field(default_factory=list)  # each document's value, when they disagree (answer.disagree)

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
            "candidates": self.candidates,
            "withheld": self.withheld,
            "disagreement": self.disagreement,
        }


@dataclass(frozen=True)
class Found:
    """What a question is answered from, before any model reads it: the documents it names (its
    scope) searched alone, and the retrieved passages less those that address the assistant."""

    scope: object  # a rag.index.scope.Scope (records sit below the stages and import none of them)
    retrieved: list[Passage]
    passages: list[Passage]  # the retrieved ones fit to answer from
    flagged: dict[str, str]  # chunk id -> the phrase that addresses the assistant


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
