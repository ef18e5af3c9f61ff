"""One door for the front ends: ask, documents, add, status — over one index folder.

The app and the evaluation runner talk to an `Assistant` and to nothing behind it: they never
reach into a pipeline's retriever, manifest or config. `rag.assemble.open_assistant` gives the
local one (this process's pipeline answers) or, under Ray Serve, one whose answers come from the
replicas; the front ends cannot tell them apart, so neither holds a local-or-remote branch.

A question is checked once, here, into a `Query` (`rag.query`); a follow-up is first rewritten
into a standalone question against the earlier turns, which is then parsed once into the
`Question` every stage of the answer reads (`rag.answer.question`); the answer's events start
with `Searched`, the text the documents were searched for.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from rag.answer.conversation import Turn, answer_from_chat  # noqa: F401 (a chat's earlier turns)
from rag.query import Query
from rag.records import Answer, Event, Final, Found
from rag.settings import Settings

from rag.library import Document, Library

if TYPE_CHECKING:  # annotations only: the door is imported before any model is
    from rag.answer.pipeline import AnswerPipeline


@dataclass(frozen=True)
class Searched:
    """The first event of an answer: the standalone question the documents were searched for."""

    text: str


@dataclass(frozen=True)
class Status:
    passages: int
    documents: int
    model: str
    replicas: int = 0  # answering Ray Serve replicas; 0 when this process answers

    def line(self) -> str:
        where = f" on {self.replicas} Ray Serve replica(s)" if self.replicas else ""
        return f"Ready: {self.passages} passages from {self.documents} document(s), model {self.model}{where}."


class Assistant:
    """The local door: this process's pipeline answers. An upload rebuilds the index and swaps
    the pipeline whole, only once the new index is complete (questions meanwhile see the old)."""

    def __init__(self, settings: Settings, library: Library, pipeline: "AnswerPipeline | None",
                 reopen: Callable[[Path], "AnswerPipeline"]):
        self.settings, self.library = settings, library  # the index folder: indexing, listings
        self._pipeline, self._reopen = pipeline, reopen  # reopen(folder): a pipeline over it, models shared
        self._lock = threading.Lock()

    @property
    def index_dir(self) -> Path:
        return self.library.index_dir

    def over(self, index_dir: Path) -> "Assistant":
        """The same kind of door over another index folder (a visitor's own copy), opened by its
        first `add`: until then it has nothing to answer from."""
        other = copy.copy(self)
        other.library = replace(self.library, index_dir=Path(index_dir))
        other._pipeline, other._lock = None, threading.Lock()
        return other

    def query(self, question: str, k: int | None = None, mode: str | None = None) -> Query:
        return Query.checked(question, k or self.settings.k, mode or self.settings.mode)

    def ask(self, question: str | Query, turns: Iterable = ()) -> Iterator[Event | Searched]:
        """`Searched`, then the answer's events (notices, the draft's tokens, one `Final`)."""
        query = question if isinstance(question, Query) else self.query(question)
        standalone = self._standalone(query, list(turns))
        yield Searched(standalone)
        yield from self._stream(query if standalone == query.text else Query.checked(standalone, query.k, query.mode))

    def answer(self, question: str | Query, turns: Iterable = ()) -> Answer:
        """The final answer alone (its `question` is the standalone one that was searched)."""
        return next(e.answer for e in self.ask(question, turns) if isinstance(e, Final))

    def _standalone(self, query: Query, turns: list) -> str:
        return self._pipeline.standalone(query, turns)

    def _stream(self, query: Query) -> Iterator[Event]:
        return self._pipeline.stream(self._pipeline.parse(query))  # the one parse of the question

    def search(self, question: str | Query, k: int | None = None, mode: str | None = None) -> Found:
        """What an answer to the question would be read from (its scope, the passages, those set
        aside), without a model: the same search `ask` makes."""
        query = question if isinstance(question, Query) else self.query(question, k, mode)
        return self._pipeline.find(self._pipeline.parse(query))

    def documents(self) -> list[Document]:
        return self.library.documents()

    def sections(self) -> set[str]:
        """Every section path the index holds (to check a question set's gold sections against)."""
        return {chunk.section_path for chunk in self._pipeline.retriever.index.chunks}

    def add(self, paths: list[Path], progress: bool = False, warn: Callable[[str], None] | None = None):
        """Index `paths` into this assistant's folder; returns the build's `IndexReport`."""
        with self._lock:
            report = self.library.index(paths, progress=progress, warn=warn or (lambda message: None))
            self._pipeline = self._reopen(self.index_dir)
        return report

    def status(self) -> Status:
        index = self._pipeline.retriever.index
        return Status(len(index.chunks), len(index.manifest.files), self.model_name())

    def model_name(self) -> str:
        return self._pipeline.generator.name

    def count_tokens(self, text: str) -> int | None:
        """The answering model's tokens in `text` (None for the extractive answerer: no tokens)."""
        generator = self._pipeline.generator
        return generator.count_tokens(text) if generator.writes_text else None


class ServedAssistant(Assistant):
    """The door over Ray Serve: questions go to the replicas, which open the same index folder;
    this process keeps an extractive pipeline over it for listings and uploads."""

    def __init__(self, settings: Settings, library: Library, pipeline: "AnswerPipeline",
                 reopen: Callable[[Path], "AnswerPipeline"], remote, replicas: int):
        super().__init__(settings, replace(library, index_dir=library.index_dir.resolve()), pipeline, reopen)
        self.remote, self.replicas = remote, replicas  # replicas may run elsewhere: absolute folders

    def over(self, index_dir: Path) -> "Assistant":
        return super().over(Path(index_dir).resolve())

    def _standalone(self, query: Query, turns: list) -> str:
        return self.remote.standalone(self.index_dir, query.text, turns)

    def _stream(self, query: Query) -> Iterator[Event]:
        return self.remote.stream(self.index_dir, query.text, query.k, query.mode)

    def status(self) -> Status:
        local = super().status()
        return Status(local.passages, local.documents, self.model_name(), self.replicas)

    def model_name(self) -> str:
        from rag.generate.model_files import DEFAULT_MODEL

        return self.settings.model or DEFAULT_MODEL

    def count_tokens(self, text: str) -> int | None:
        return None  # the replicas hold the model
