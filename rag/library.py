"""The door to an index folder, for what needs no language model: indexing (the one way an
index is built, by one machine or a Ray cluster), the documents it holds, a filing's statement
facts, and card corrections.

The CLI, the app and `rag eval` index and list through a `Library`; asking and searching go
through the `Assistant` (`rag.assistant`), which holds one. Neither front end reaches into the
store, the indexer or the engines behind it (tests/test_structure.py checks their imports).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from rag.errors import UserError
from rag.ingest.readers import FORMAT_NAMES, SUFFIXES  # noqa: F401 (the formats a library reads)
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.index.indexer import IndexReport

Warn = Callable[[str], None]


def load_embedder(model: str = Settings.embedding_model):
    """One embedder per model and process: every caller in it shares the loaded model."""
    from embeddings import EmbedderConfig, load_embedder as load
    from embeddings.sentence_transformer import ModelUnavailable

    try:
        return load(EmbedderConfig(model=model))
    except ModelUnavailable as exc:
        raise UserError(str(exc)) from exc


def chunker_config(settings: Settings):
    """How files become chunks, with the settings' limits on what one file may cost."""
    from rag.ingest.chunking import ChunkerConfig

    return ChunkerConfig(max_file_mb=settings.max_file_mb, max_passages=settings.max_passages)


@dataclass(frozen=True)
class Document:
    """One indexed file, as a listing shows it."""

    path: str
    passages: int


@dataclass(frozen=True)
class Engine:
    """Who reads and embeds the files: this process ("local") or a Ray cluster ("ray", at
    `address`, with `workers` embedding actors)."""

    kind: str = "local"
    address: str | None = None
    workers: int | None = None

    def check(self) -> None:
        if self.kind == "local" and (self.address or self.workers):
            raise UserError("--ray-address and --workers need --engine ray")
        if self.workers is not None and self.workers < 1:
            raise UserError(f"--workers must be at least 1 (got {self.workers})")


@dataclass
class Library:
    """One index folder. The embedding model loads on the first build (or is given, shared
    with an assistant that already holds it)."""

    settings: Settings
    index_dir: Path
    embedder: object | None = field(default=None, repr=False)

    def __post_init__(self):
        self.index_dir = Path(self.index_dir)

    def check_target(self) -> None:
        """An index folder that cannot be written fails before any model loads."""
        from rag.index import store

        store.check_writable_target(self.index_dir)

    def check_index(self) -> None:
        """A missing or foreign index fails before any model loads."""
        from rag.index import store

        store.live_generation(self.index_dir)

    def check_sources(self, paths: list[Path]) -> None:
        """A missing path or an unwritable folder fails before any model loads or file is written."""
        from rag.ingest.readers import find_documents

        find_documents(paths)
        self.check_target()

    def index(self, paths: list[Path], engine: "Engine | object" = Engine(), faiss: str | None = None, progress: bool = False,
              warn: Warn | None = None, loading: Warn | None = None) -> "IndexReport":
        """Index `paths` into the folder: added, updated or dropped files, written whole (a failed
        or interrupted build leaves the previous index). `loading` hears when the model loads.
        `engine` may also be a started one (`rag.index.engines.Engine`: a bench times the start
        apart); the caller closes it."""
        from rag.index.indexer import build_index

        started = None if isinstance(engine, Engine) else engine
        engine = engine if started is None else Engine()
        engine.check()
        self.check_sources(paths)
        runner = None
        if engine.kind == "ray":  # an unreachable cluster fails before the model loads
            from rag.index.ray_engine import RayEngine

            runner = RayEngine(address=engine.address, workers=engine.workers)
        try:
            if self.embedder is None:
                (loading or (lambda message: None))("loading the embedding model…")
                self.embedder = load_embedder(self.settings.embedding_model)
            options = {"faiss_factory": faiss} if faiss else {}
            options |= {"warn": warn} if warn else {}
            return build_index(paths, self.index_dir, self.embedder, chunker_config(self.settings), progress=progress,
                               engine=started or runner, **options)
        finally:
            if runner is not None:
                runner.close()

    def documents(self) -> list[Document]:
        from rag.index import store

        return [Document(path, info["chunks"]) for path, info in store.read_manifest(self.index_dir).files.items()]

    def facts(self, file: Path, item: str | None = None, every_cell: bool = False) -> tuple[str, list]:
        """(the indexed path FILE names, its statement facts: line items of the statements, or
        every table cell); a file the index does not hold is a one-line error naming those it does."""
        from rag.index import store
        from rag.index.facts_store import read_facts

        facts = read_facts(store.live_generation(self.index_dir), item=item)
        sources = sorted({f.source for f in facts} | {str(s) for s in store.named_files(self.index_dir)})
        source = indexed_as(file, sources)
        if source is None:
            raise UserError(f"{file} is not in the index at {self.index_dir}; it holds: "
                            + (", ".join(Path(s).name for s in sources) or "no documents"))
        return source, [f for f in facts if f.source == source and (every_cell or (f.item and f.statement))]


def copy_index(source: Path, target: Path) -> None:
    """A copy of the live index at `source` (a visitor's own, to add files to), written whole."""
    from rag.index import store

    store.copy_live(source, target)


def indexed_as(file: Path, sources: list[str]) -> str | None:
    """The indexed path a user's FILE names: the same file, else the only one of that name.

    >>> indexed_as(Path("/nowhere/10k.pdf"), ["/data/10k.pdf", "/data/10q.pdf"]), indexed_as(Path("x.pdf"), [])
    ('/data/10k.pdf', None)
    """
    resolved = file.expanduser().resolve()
    same = [s for s in sources if Path(s).expanduser().resolve() == resolved]
    named = [s for s in sources if Path(s).name == file.name]
    return (same or (named if len(named) == 1 else [None]))[0]


def correct_cards(paths: list[Path], meta: list[str]) -> None:
    """Each named file's card corrections ("FIELD=VALUE") merged into its sidecar
    (FILE.card.json), all checked before any is written."""
    from rag.index.engines import sidecar_path
    from rag.ingest.cards import check_corrections, parse_sidecar

    corrections = {}
    for item in meta:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--meta {item!r}: write FIELD=VALUE, e.g. --meta fiscal_year=2022")
        corrections[name.strip()] = value.strip()
    try:
        check_corrections(corrections, "--meta")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    files = [p for p in paths if p.is_file()]
    if not files:
        raise UserError("--meta corrects the card of files named on the command line, not folders")
    for path in files:
        sidecar = sidecar_path(path)
        try:
            current = parse_sidecar(sidecar.read_text(encoding="utf-8"), str(sidecar)) if sidecar.is_file() else {}
            sidecar.write_text(json.dumps({**current, **corrections}, indent=1, ensure_ascii=False) + "\n",
                               encoding="utf-8")
        except ValueError as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            raise UserError(f"cannot write {sidecar}: {exc.strerror}") from None
