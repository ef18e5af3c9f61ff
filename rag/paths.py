"""Where things live: the bundled sample, the user cache. Environment variables only for paths."""
from __future__ import annotations

import os
from pathlib import Path

SAMPLE_NAME = "japan-us-alliance.md"


def sample_document() -> Path:
    return Path(__file__).resolve().parent / "sample" / SAMPLE_NAME


def home() -> Path:
    """RAG_HOME, else the platform's user cache folder for this tool."""
    if env := os.environ.get("RAG_HOME"):
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rag-local", appauthor=False))


def default_index_dir() -> Path:
    """One per copy of the sample: two checkouts or virtualenvs must not share (and double) it."""
    import hashlib

    key = hashlib.sha1(str(sample_document()).encode()).hexdigest()[:10]
    return home() / "indexes" / f"sample-{key}"


def model_cache_dir() -> Path:
    """Model weights, keyed by content hash: shared by every index and RAG_HOME (RAG_MODEL_CACHE overrides)."""
    if env := os.environ.get("RAG_MODEL_CACHE"):
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rag-local", appauthor=False)) / "models"
