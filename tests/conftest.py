"""Shared fixtures: the real bundled embedder and a sample index, each built once per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Nothing a test does touches the user's own cache or indexes."""
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "rag-home"))


@pytest.fixture(scope="session")
def embedder():
    from rag.cli import load_embedder_once

    return load_embedder_once("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder) -> Path:
    from rag.indexer import build_index
    from rag.paths import sample_document

    index_dir = tmp_path_factory.mktemp("sample") / "index"
    build_index([sample_document()], index_dir, embedder, progress=False)
    return index_dir


@pytest.fixture(scope="session")
def sample_retriever(sample_index, embedder):
    from rag.retrieval import Retriever

    return Retriever.open(sample_index, embedder)
