"""The draft: the model's answer to the fitted prompt, streamed token by token, with its trace
(log-probabilities, and the hidden states the decision's head reads)."""
from __future__ import annotations

import time
from typing import NamedTuple

from rag.answer.prompting import FittedPrompt
from rag.generate.base import Generator, Prompt
from rag.records import Token


class Draft(NamedTuple):
    raw: str  # the model's draft ("" when it wrote nothing or was shown nothing)
    prompt: Prompt | None  # what it was shown, with the trace the signals read


def stream_draft(generator: Generator, fitted: FittedPrompt, state_layers: tuple, started: float, timings: dict):
    """The model's draft, streamed as `Token`s (a generator: its return value is the `Draft`);
    nothing is drafted when no passage was shown."""
    raw, prompt = "", None
    gen_started = time.perf_counter()
    if fitted.passages:
        prompt = Prompt(fitted.messages, fitted.question, fitted.passages, fitted.texts, state_layers=state_layers)
        for piece in generator.stream(prompt):
            if not raw:
                timings["first_token_s"] = time.perf_counter() - started
            raw += piece
            yield Token(piece)
        if raw:
            timings["decode_s"] = time.perf_counter() - started - timings["first_token_s"]
    timings["generate_s"] = time.perf_counter() - gen_started
    timings.setdefault("first_token_s", time.perf_counter() - started)
    return Draft(raw, prompt)
