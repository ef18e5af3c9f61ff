"""The local language model through transformers: generation, copying, the signals' passes.

One model instance per configuration and process (loaded by `transformers_load.load_generator`,
cached) is shared by every caller; a lock serialises its passes so that concurrent requests do
not interleave on the same weights.
"""
from __future__ import annotations

import threading
from typing import Iterator

from rag.generate import copy_span
from rag.generate.base import Generator, GeneratorConfig, Prompt, safe_messages


class TransformersGenerator(Generator):
    """A causal LM with its own chat template; greedy decoding, bounded new tokens."""

    writes_text = True

    def __init__(self, model, tokenizer, name: str, config: GeneratorConfig, states_key: str | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.config = config
        self.states_key = states_key  # the source GGUF's SHA-256 and precision: what a head was trained on
        self.context_window = int(getattr(model.config, "max_position_embeddings", 4096) or 4096)
        self.lock = threading.Lock()  # one forward pass at a time (shared by the study helpers' passes)
        self._token_bytes: list[bytes] | None = None
        self._prefix_cache: dict = {}

    def render(self, messages) -> str:
        return self.tokenizer.apply_chat_template(safe_messages(messages), tokenize=False, add_generation_prompt=True)

    def count_prompt_tokens(self, messages) -> int:
        return len(self.tokenizer(self.render(messages), add_special_tokens=False)["input_ids"])

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def continuation_logprobs(self, messages, text: str) -> list[float]:
        import torch

        prefix = self.tokenizer(self.render(messages), add_special_tokens=False)["input_ids"]
        tokens = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if not tokens:
            return []
        ids = torch.tensor([prefix + tokens])
        with self.lock, torch.inference_mode():
            logits = self.model(input_ids=ids).logits[0, len(prefix) - 1:-1].float()
        return torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(tokens)[:, None])[:, 0].tolist()

    def token_bytes(self) -> list[bytes]:
        """Each vocabulary token's bytes (byte-level BPE), for copying spans; built once."""
        if self._token_bytes is None:
            self._token_bytes = copy_span.vocabulary_bytes(self.tokenizer)
        return self._token_bytes

    def copy_span(self, messages, source: str, fixed: int = 0, max_tokens: int = 32,
                  top: int = 64) -> tuple[str, float]:
        """Greedy decoding restricted to copying words of `source` (see `copy_span`): the span and
        its tokens' mean log-probability; ("", 0.0) when the model ends before copying a word.

        Once the span has started, the source's own next words are what the model will most
        likely copy, so they are run through the model in one pass and each position's greedy
        choice is checked against them (as in speculative decoding): the choices are those of
        one-token-at-a-time decoding, at one or two passes instead of one per token (a 23-token
        draft's copy took 1.2-2.2 s). The first `fixed` messages are the same on every call
        (instructions, worked examples): their keys and values are computed once and reused."""
        import torch

        src = copy_span.SpanSource.of(source)
        ids = self.tokenizer(self.render(messages), return_tensors="pt", add_special_tokens=False)["input_ids"]
        state, logprobs = None, []
        with self.lock, torch.inference_mode():
            past, ids = self._cached_prefix(messages[:fixed], ids) if fixed else (None, ids)
            out = self.model(input_ids=ids, cache=past, use_cache=True, logits_to_keep=1)
            past, scores = out.cache, torch.log_softmax(out.logits[0, -1].float(), dim=-1)
            while len(logprobs) < max_tokens:
                best, after = self._copy_choice(scores, src, state, top)
                if best is None:
                    break
                state = after
                logprobs.append(float(scores[best]))
                guess = self._source_tokens(src, state, max_tokens - len(logprobs))
                out = self.model(input_ids=torch.tensor([[best] + guess]), cache=past, use_cache=True,
                                 logits_to_keep=len(guess) + 1)
                past, steps = out.cache, torch.log_softmax(out.logits[0].float(), dim=-1)
                accepted = 0  # steps[n] follows `best` and the first n guessed tokens
                for n, token in enumerate(guess):  # keep the guessed tokens the model itself would choose
                    choice, after = self._copy_choice(steps[n], src, state, top)
                    if choice != token or len(logprobs) >= max_tokens:
                        break
                    state, accepted = after, accepted + 1
                    logprobs.append(float(steps[n][token]))
                scores = steps[accepted]
                if unused := len(guess) - accepted:  # the checked tokens that were not kept leave the cache
                    past.crop(-unused)
        span = src.text_of(state)
        return (span, sum(logprobs) / len(logprobs)) if span else ("", 0.0)

    def _copy_choice(self, scores, src, state, top: int):
        """The greedy copying choice at one position: (token, state after it), or (None, None) when
        the span ends here (the model's stop token at a word end, or nothing continues the source)."""
        import torch

        vocab, stops = self.token_bytes(), self.stop_ids()
        candidates = set(torch.topk(scores, min(top, scores.shape[0])).indices.tolist())
        for text in src.continuations(state):
            candidates.update(self.tokenizer(text.decode("utf-8", errors="ignore"), add_special_tokens=False)["input_ids"][:1])
        for token in sorted(candidates, key=lambda t: -float(scores[t])):
            if token in stops:
                if src.can_stop(state):
                    return None, None
                continue
            after = src.advance(state, vocab[token])
            if after is not None:
                return token, after
        return None, None

    def _source_tokens(self, src, state, limit: int) -> list[int]:
        """The tokens of the source's text after the span's first possible end: the guess to check."""
        end = min(e for _, e in state)
        text = src.text[end:end + 8 * limit].decode("utf-8", errors="ignore")
        return self.tokenizer(text, add_special_tokens=False)["input_ids"][:limit] if text else []

    def _cached_prefix(self, fixed_messages, ids):
        """(a copy of the cache after the fixed messages, the ids left to run); (None, ids) if the
        fixed messages do not tokenise as a prefix of the whole prompt."""
        import copy

        import torch

        text = self.tokenizer.apply_chat_template(safe_messages(fixed_messages), tokenize=False)
        prefix = tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        if len(prefix) >= ids.shape[1] or tuple(ids[0, :len(prefix)].tolist()) != prefix:
            return None, ids
        if self._prefix_cache.get("ids") != prefix:
            out = self.model(input_ids=torch.tensor([prefix]), use_cache=True, logits_to_keep=1)
            self._prefix_cache = {"ids": prefix, "cache": out.cache}
        return copy.deepcopy(self._prefix_cache["cache"]), ids[:, len(prefix):]

    def stop_ids(self) -> set[int]:
        ids = {self.tokenizer.eos_token_id}
        configured = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        ids.update(configured if isinstance(configured, (list, tuple)) else [configured])
        return {i for i in ids if i is not None}

    def stream(self, prompt: Prompt) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        inputs = self.tokenizer(self.render(prompt.messages), return_tensors="pt", add_special_tokens=False)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
        failure: list[BaseException] = []

        def run():
            try:
                with torch.inference_mode():
                    out = self.model.generate(**inputs, streamer=streamer, max_new_tokens=self.config.max_new_tokens,
                                              do_sample=False, pad_token_id=self.tokenizer.eos_token_id,
                                              output_logits=True, return_dict_in_generate=True,
                                              output_hidden_states=bool(prompt.state_layers))
                    if prompt.state_layers:  # the first step's states are the prompt's prefill
                        prompt.trace["last_token_states"] = last_token_states(out.hidden_states[0],
                                                                              prompt.state_layers)
                    start = inputs["input_ids"].shape[1]
                    prompt.trace["token_logprobs"] = [
                        float(torch.log_softmax(step[0].float(), dim=-1)[token])
                        for step, token in zip(out.logits, out.sequences[0, start:].tolist())
                        if token != self.tokenizer.eos_token_id]
            except BaseException as exc:  # surfaced to the caller after the stream ends
                failure.append(exc)
                streamer.end()

        with self.lock:
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            for piece in streamer:
                if piece:
                    yield piece
            worker.join()
        if failure:
            raise failure[0]


def last_token_states(hidden_states, layers) -> dict:
    """{layer: float32 vector of the last position} from a forward pass's hidden_states (index 0
    is the embeddings, i the output of block i)."""
    return {layer: hidden_states[layer][0, -1].float().numpy().copy() for layer in layers}
