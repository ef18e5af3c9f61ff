"""The embedding layer: an `Embedder` interface and its sentence-transformers implementation."""
from .base import Embedder, EmbedderConfig, normalise

__all__ = ["Embedder", "EmbedderConfig", "normalise", "load_embedder"]


def load_embedder(config: EmbedderConfig = EmbedderConfig()) -> Embedder:
    """Heavy imports happen here, not at package import, so the CLI starts instantly."""
    from .sentence_transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(config)
