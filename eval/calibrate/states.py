"""Hidden states read from a transformers model by a forward pass of their own: what the head
trainers and the span study need and the product never calls (an answer reads its head's state
from its own prefill, `Prompt.state_layers`). Functions over the model, not hooks of the product's
`Generator` interface.
"""
from __future__ import annotations

import numpy as np

from rag.generate.transformers_lm import last_token_states


def prefill_states(generator, messages: tuple[dict, ...], layers: tuple[int, ...]) -> dict | None:
    """{layer: the last prompt token's hidden state} for `messages`; None for a generator without
    hidden states (the extractive answerer)."""
    import torch

    if getattr(generator, "model", None) is None:
        return None
    ids = generator.tokenizer(generator.render(messages), return_tensors="pt", add_special_tokens=False)["input_ids"]
    with generator.lock, torch.inference_mode():
        out = generator.model(input_ids=ids, output_hidden_states=True, logits_to_keep=1)
    return last_token_states(out.hidden_states, layers)


def prefill_token_states(generator, messages: tuple[dict, ...], layers: tuple[int, ...]) -> dict | None:
    """Every prompt token's hidden state at `layers`, with the rendered prompt and each token's
    character span in it (for the span head); None without hidden states."""
    import torch

    if getattr(generator, "model", None) is None:
        return None
    text = generator.render(messages)
    encoded = generator.tokenizer(text, return_tensors="pt", add_special_tokens=False, return_offsets_mapping=True)
    with generator.lock, torch.inference_mode():
        out = generator.model(input_ids=encoded["input_ids"], output_hidden_states=True, logits_to_keep=1)
    return {"text": text, "offsets": encoded["offset_mapping"][0].numpy().astype(np.int32),
            "states": {layer: out.hidden_states[layer][0].to(torch.float16).numpy().copy() for layer in layers},
            "last": last_token_states(out.hidden_states, layers)}
