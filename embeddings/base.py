"""The embedding interface: implement `embed_batch`; queries, passages and batching derive from it."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np


@dataclass(frozen=True)
class EmbedderConfig:
    """Which model, and the instruction prefixes some models (e5, bge) expect."""

    model: str = "all-MiniLM-L6-v2"
    query_prefix: str | None = None  # None: the known default for the model, else ""
    passage_prefix: str | None = None
    batch_size: int = 16
    device: str = "cpu"


BATCHES_PER_CALL = 8  # batches handed to `embed_batch` at once (it splits them into `batch_size`)


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    name: str
    dimension: int
    max_tokens: int
    query_prefix: str = ""
    passage_prefix: str = ""
    batch_size: int = 16

    @abstractmethod
    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Vectors for texts that already carry any prefix, in batches of `batch_size`; rows L2-normalised."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for a passage, prefix and special tokens included."""

    def embed_passages(self, texts: Iterable[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Longest first, in groups of many batches: similar lengths in a batch pad little, and few
        calls into the model keep the per-call overhead small (progress is reported per group)."""
        texts = [self.passage_prefix + t for t in texts]
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        group = self.batch_size * BATCHES_PER_CALL
        for start in range(0, len(order), group):
            rows = order[start:start + group]
            vectors[rows] = self.embed_batch([texts[i] for i in rows])
            if progress:
                progress(len(rows))
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_batch([self.query_prefix + text])[0]


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
