"""Typed records that cross module lines: blocks read from files, chunks, retrieved passages."""
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
