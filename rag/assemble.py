"""The only place that loads models and builds the pipeline from `Settings`.

Front ends (the CLI, the app, the evaluation, the benchmark, the tests) ask here for an
embedder, a generator, an index or a whole `AnswerPipeline`; nothing else constructs them.
Models are loaded once per process and shared.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Callable

from rag.library import chunker_config, load_embedder  # noqa: F401 (the front ends' names for them)
from rag.settings import Settings

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prefer_offline(settings: Settings = Settings()) -> None:
    """Keep the Hugging Face libraries off the network unless a setting names a hub model.

    The bundled models load from installed packages; set once by each entry point, never by a
    constructor, so that a user who names a hub model can still download it.
    """
    from rag.generate.model_files import BUNDLED

    def local(spec: str | None, bundled) -> bool:
        return spec is None or spec.lower() in bundled or Path(spec).expanduser().exists()

    from embeddings.sentence_transformer import BUNDLED_NAMES

    if (local(settings.embedding_model, BUNDLED_NAMES) and local(settings.model, BUNDLED)
            and local(settings.reader, ("none",))) or not hub_reachable():
        # Out of the hub's reach, a named hub model still loads from the hub's local cache, and
        # one that is not there is one line at once, not a minute of the libraries' retries.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether this machine can open a connection to the Hugging Face hub (HF_ENDPOINT). Behind a
    proxy the libraries go through it, so the proxy is trusted to reach it."""
    import socket
    from urllib.parse import urlsplit

    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout_s).close()
        return True
    except (OSError, UnicodeError):
        return False


def quiet_library_warnings() -> None:
    """A user sees the product's own lines, not the libraries' notices about their own futures.

    torch deprecates the quantised-tensor calls that int8 Linear layers are built on (still
    supported in the pinned 2.13); the entry points hide that notice, tests still see it.
    """
    import warnings

    warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor", category=UserWarning)
    warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated", category=DeprecationWarning)


@functools.lru_cache(maxsize=2)
def load_generator(settings: Settings, embedder, log: Log = stderr_log):
    """The language model the settings name (loaded once per configuration), or the extractive answerer."""
    if settings.generator == "extractive":
        from rag.answer.sentences import best_sentences
        from rag.generate.extractive import ExtractiveGenerator
        from rag.index.lexical import terms

        return ExtractiveGenerator(functools.partial(best_sentences, embed=embedder.embed_passages, terms=terms))
    from rag.generate.base import GeneratorConfig
    from rag.generate.model_files import DEFAULT_MODEL
    from rag.generate.transformers_load import load_generator as load

    return load(GeneratorConfig(model=settings.model or DEFAULT_MODEL, max_new_tokens=settings.max_new_tokens,
                                precision=settings.precision), log=log)


@functools.lru_cache(maxsize=2)
def load_reader(spec: str = Settings.reader):
    """The span reader `spec` names (once per process): None for "none", a reader trained here
    (`python -m eval.calibrate.train_reader` writes OUT/reader.safetensors), or a SQuAD-style
    reader from the hub or a folder. None ships: the trained one lost under its rule (README)."""
    from rag.answer.reader import SentenceReader

    if spec == "none":
        return None
    if spec.endswith(".safetensors"):
        return SentenceReader.load(Path(spec).expanduser())
    return SentenceReader.from_hub(spec)


def answer_config(settings: Settings):
    from rag.answer.pipeline import AnswerConfig

    return AnswerConfig(k=settings.k, mode=settings.mode, max_new_tokens=settings.max_new_tokens,
                        style=settings.style, focus_sentences=settings.focus_sentences or None)


def calibration_kind(model: str, writes_text: bool = True) -> str:
    """The answerability calibration a generator reads: "extractive", "model:<bundled file name>"
    (a bundled model with a calibration of its own), or "model" (the default's, for any other).

    >>> calibration_kind("qwen2.5-coder-1.5b"), calibration_kind("extractive", writes_text=False)
    ('model:qwen2.5-coder-1.5b-instruct-q4_k_m', 'extractive')
    >>> calibration_kind("qwen2.5-coder-0.5b-instruct"), calibration_kind("some-org/any-hub-model")
    ('model', 'model')
    """
    from rag.generate.model_files import BUNDLED, DEFAULT_MODEL

    if not writes_text:
        return "extractive"
    bundled = BUNDLED.get(model)
    return "model" if bundled is None or bundled is BUNDLED[DEFAULT_MODEL] else f"model:{bundled.name}"


def load_decision(generator, answerability: str = Settings.answerability, enabled: bool = True):
    """What decides to answer or refuse for this generator: its fitted calibration and, with
    `answerability` "auto", the head trained on its hidden states (when there is one)."""
    from rag.answer import decision, heads

    head = (heads.load_answerability_head(generator.states_key)
            if generator.writes_text and answerability == "auto" else None)
    kind = calibration_kind(generator.name, generator.writes_text)
    return decision.Decision(decision.load(kind), head, enabled, decision.load_collection(kind))


def answer_pipeline(retriever, generator, config=None, answerability: str = Settings.answerability,
                    decide: bool = True, reader: str = Settings.reader):
    """A pipeline over an opened retriever, with the decision this generator reads (`decide`
    False: never refuse on the fitted signals, to collect them for a fit) and the span reader
    `reader` names."""
    from rag.answer.pipeline import AnswerConfig, AnswerPipeline

    return AnswerPipeline(retriever, generator, load_decision(generator, answerability, decide),
                          config or AnswerConfig(), load_reader(reader))


def resolve_index(index_dir: Path | None, embedder, log: Log = stderr_log) -> Path:
    """The named index, or the sample's default index: built on first use, and brought up to date
    when the sample it holds is another copy's (another checkout or virtualenv), whose path the
    sources would otherwise show."""
    from rag import paths
    from rag.index import store
    from rag.library import Library

    if index_dir is not None:
        return index_dir
    index_dir, sample = paths.default_index_dir(), paths.sample_document()
    if not store.is_index(index_dir):
        log(f"building the sample index at {index_dir} (first use)…")
        Library(Settings(), index_dir, embedder).index([sample])
    elif str(sample) not in store.read_manifest(index_dir).files:
        Library(Settings(), index_dir, embedder).index([sample])
    return index_dir


def open_retriever(settings: Settings, index_dir: Path | None, log: Log = stderr_log):
    from rag.index.retrieval import Retriever

    embedder = load_embedder(settings.embedding_model)
    return Retriever.open(resolve_index(index_dir, embedder, log), embedder, settings.fusion)


def build_pipeline(settings: Settings, index_dir: Path | None, log: Log = stderr_log, decide: bool = True):
    """Retriever + generator + decision + answer settings. The generator loads first: a bad
    --model fails before any index is built."""
    from rag.index.retrieval import Retriever

    embedder = load_embedder(settings.embedding_model)
    generator = load_generator(settings, embedder, log)
    retriever = Retriever.open(resolve_index(index_dir, embedder, log), embedder, settings.fusion)
    pipeline = answer_pipeline(retriever, generator, answer_config(settings), settings.answerability, decide,
                               settings.reader)
    pipeline.warm()
    return pipeline


def without_model(settings: Settings) -> Settings:
    """The settings with the extractive answerer in place of a language model (nothing to load)."""
    from dataclasses import replace

    return replace(settings, generator="extractive", model=None)


def open_searcher(settings: Settings, index_dir: Path | None, log: Log = stderr_log):
    """The door for searching alone (`Assistant.search`, listings): no language model loads."""
    return open_assistant(without_model(settings), index_dir, log)


def open_assistant(settings: Settings, index_dir: Path | None, log: Log = stderr_log, decide: bool = True,
                   docs: list[Path] | None = None, remote=None, replicas: int = 0, progress: Log | None = None):
    """The front ends' one door (`rag.assistant`) over `index_dir` (None: the sample's index).

    `docs`: files and folders indexed into `index_dir` first (added, updated or dropped, as
    `build_index` does; its warnings go to `log`). `remote` (`serving.replicas`' client, with how
    many `replicas` answer at once): the replicas answer, and this process loads only the embedder
    and an extractive pipeline, for listings and uploads. `progress` hears each step before it
    starts (a status line), `log` what the steps say."""
    from rag.assistant import Assistant, ServedAssistant
    from rag.library import Library

    progress = progress or (lambda message: None)
    if docs:
        progress("loading the embedding model…")
        library = Library(settings, index_dir, load_embedder(settings.embedding_model))
        progress("indexing the documents…")
        report = library.index(docs, warn=log)
        print(f"index {index_dir}: {report.summary()}", file=sys.stderr)
    if remote is None:
        progress("loading the language model (the first start takes about a minute)…")
    local = without_model(settings) if remote is not None else settings
    pipeline = build_pipeline(local, index_dir, log, decide)
    library = Library(settings, resolve_index(index_dir, pipeline.retriever.embedder, log), pipeline.retriever.embedder)
    reopen = lambda other: build_pipeline(local, other, lambda message: None, decide)  # models cached
    if remote is None:
        return Assistant(settings, library, pipeline, reopen)
    return ServedAssistant(settings, library, pipeline, reopen, remote, replicas)
