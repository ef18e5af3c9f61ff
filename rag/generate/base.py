"""The generator interface: a prompt in, pieces of answer text out.

Callers ask `writes_text` rather than the class: a language model can also rewrite a
follow-up question; the extractive answerer can only pick sentences.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator

from rag.control_tokens import without_control_tokens
from rag.generate import model_files
from rag.settings import Settings


@dataclass(frozen=True)
class GeneratorConfig:
    model: str = model_files.DEFAULT_MODEL
    max_new_tokens: int = Settings.max_new_tokens
    threads: int | None = None  # torch intra-op threads; None: all cores
    precision: str = Settings.precision  # "int8" (Linear layers, see quantization.py) or "float32"


def safe_messages(messages) -> list[dict]:
    """Chat messages whose contents hold no control token (`rag.control_tokens`): the model's
    door, so that whatever text slipped past its entry cannot open a turn of the chat template.
    Every runtime renders its prompt from these."""
    return [{**m, "content": without_control_tokens(m["content"])} if isinstance(m.get("content"), str) else m
            for m in messages]


@dataclass(frozen=True)
class Prompt:
    """What a generator gets: chat messages for a language model, and the raw parts for others."""

    messages: tuple[dict, ...]
    question: str
    passages: tuple = ()  # Passage records, numbered from 1
    passage_texts: tuple[str, ...] = ()  # their text as shown to the model
    state_layers: tuple[int, ...] = ()  # hidden layers whose last-prompt-token state the caller wants
    # filled by the generator: token_logprobs, and last_token_states {layer: vector} from the answer's
    # own prefill (no second forward pass) when state_layers names any
    trace: dict = field(default_factory=dict, compare=False)


class Generator(ABC):
    name: str
    context_window: int = 4096
    writes_text: bool = False  # True for a language model: it can also rewrite follow-up questions

    @abstractmethod
    def stream(self, prompt: Prompt) -> Iterator[str]:
        """Pieces of the answer text as they are produced."""

    def continuation_logprobs(self, messages: tuple[dict, ...], text: str) -> list[float] | None:
        """Log-probabilities of `text`'s tokens as the answer to `messages`; None without a model."""
        return None

    def copy_span(self, messages: tuple[dict, ...], source: str, fixed: int = 0,
                  max_tokens: int = 32) -> tuple[str, float]:
        """The phrase of `source` the model copies as its reply, and its mean token log-probability;
        ("", 0.0) without a model."""
        return "", 0.0

    def count_prompt_tokens(self, messages: tuple[dict, ...] | list[dict]) -> int:
        return 0

    # What keys a trained head to this generator's hidden states (see rag.answer.heads); None: no states.
    states_key: str | None = None

    def count_tokens(self, text: str) -> int:
        return len(text.split())
