"""The local language model through transformers: the bundled GGUF, a folder, or a hub id.

One model instance per configuration and process (`load_generator` is cached) shared by every
caller; a lock serialises generation so that concurrent requests do not interleave on the
same weights.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Iterator

from rag.errors import UserError
from rag.generate import copy_span, model_files
from rag.generate.base import Generator, GeneratorConfig, Prompt
from rag.settings import PRECISIONS


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
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

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

        text = self.tokenizer.apply_chat_template(list(fixed_messages), tokenize=False)
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


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _load_folder(folder: str | Path, local_only: bool):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=local_only)
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, local_files_only=local_only)
    return model.eval(), tokenizer


def _write_cache(model, tokenizer, folder: Path) -> None:
    from safetensors.torch import save_model

    model_files.publish_cache(folder, model, tokenizer, lambda staging: save_model(model, str(staging / "model.safetensors")))


def _load_gguf(gguf: Path, sha256: str, log) -> tuple[object, object]:
    """From the safetensors cache when present, else dequantise the GGUF once and fill the cache."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cache = model_files.weights_cache(sha256)
    if model_files.cache_is_complete(cache):
        return _load_folder(cache, local_only=True)
    with open(gguf, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise UserError(f"{gguf} is not a GGUF model file (it does not start with the GGUF magic bytes)")
    try:  # the header and tensor table, memory-mapped: a truncated file fails here, in a second
        from gguf import GGUFReader

        GGUFReader(str(gguf))
    except Exception as exc:
        raise UserError(f"{gguf} is not a usable GGUF model ({exc.__class__.__name__}: {str(exc)[:120]})") from exc
    log(f"preparing the model from {gguf.name} (one time, about a minute)…")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                     dtype=torch.float32).eval()
    except Exception as exc:  # truncated or foreign files fail inside the gguf reader in many ways
        raise UserError(f"{gguf} is not a usable GGUF model ({exc.__class__.__name__}: {str(exc)[:120]})") from exc
    try:
        _write_cache(model, tokenizer, cache)
    except OSError as exc:
        log(f"warning: could not cache the model weights ({exc}); the next start will be slow again")
    return model, tokenizer


def _source_sha256(spec: str) -> str | None:
    """The GGUF hash that keys the weight caches; None for hub ids and folders (not cached)."""
    if spec.lower() in model_files.BUNDLED:
        return model_files.BUNDLED[spec.lower()].sha256
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf" and path.is_file():
        return model_files.sha256_file(path)
    return None


def _load_int8(spec: str, log):
    """From the int8 cache when present; else load in float32, quantise, and fill the cache."""
    from rag.generate import quantization

    sha256 = _source_sha256(spec)
    if sha256 is None:  # hub ids and folders: quantised in memory, not cached
        model, tokenizer = _load(spec, log)
        log("quantising the model to int8…")
        return quantization.quantise(model), tokenizer
    cache = model_files.quantised_cache(sha256, quantization.SCHEME)
    loaded = _int8_cache(cache, log)
    if loaded is None:
        with model_files.preparing(sha256, log):
            loaded = _int8_cache(cache, log)  # filled by another process while this one waited
            if loaded is None and _prepare_int8_apart(spec, sha256, cache, log):
                loaded = _int8_cache(cache, log)
            if loaded is None:  # no helper process here (or it failed): prepare in this one
                loaded = _prepare_int8(spec, sha256, cache, log)
    return loaded


def _prepare_int8_apart(spec: str, sha256: str, cache: Path, log) -> bool:
    """Prepare the int8 cache in a helper process, which hands every byte of the float32 weights
    back to the system when it exits: a first start then idles exactly like a warm one. The
    helper works under this process's lock; its messages come back through a pipe."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    try:
        import warnings

        helper = context.Process(target=_prepare_in_helper, daemon=True,
                                 args=(spec, sha256, str(cache), sender, list(warnings.filters)))
        helper.start()
    except (OSError, AssertionError, RuntimeError):  # e.g. inside a daemonic worker, which may not have children
        return False
    finally:
        sender.close()
    refused = None
    while True:
        try:
            if receiver.poll(0.5):
                kind, message = receiver.recv()
                if kind == "refused":
                    refused = message
                else:
                    log(message)
            elif not helper.is_alive():
                break
        except (EOFError, OSError):
            break
    helper.join()
    if refused is not None:  # bad input (a file that is no model): the same one line as in this process
        raise UserError(refused)
    return helper.exitcode == 0 and model_files.cache_is_complete(cache)


def _prepare_in_helper(spec: str, sha256: str, cache: str, sender, warning_filters: list) -> None:
    import warnings

    warnings.filters[:] = warning_filters  # the parent's: an entry point's quiet libraries stay quiet here
    os.environ[model_files.LOCK_HELD_ENV] = sha256  # the parent holds the lock for this model
    try:
        _prepare_int8(spec, sha256, Path(cache), lambda message: sender.send(("log", message)), load_back=False)
    except UserError as exc:
        sender.send(("refused", str(exc)))
        raise SystemExit(2)
    except BaseException as exc:  # a bug: the parent prepares in its own process, where it shows in full
        sender.send(("log", f"warning: preparing the model in a helper process failed ({exc.__class__.__name__}); "
                            "preparing it here instead"))
        raise SystemExit(1)


def _int8_cache(cache: Path, log):
    """The int8 model from its cache, or None when there is none (a damaged one is removed)."""
    from rag.generate import quantization

    if not model_files.cache_is_complete(cache):
        return None
    try:
        return quantization.load_cache(cache)
    except (OSError, ValueError, RuntimeError) as exc:
        log(f"warning: the int8 model cache is damaged ({exc.__class__.__name__}); rebuilding it")
        shutil.rmtree(cache, ignore_errors=True)
        return None


def _prepare_int8(spec: str, sha256: str, cache: Path, log, load_back: bool = True):
    """First start: float32, quantised, cached; then loaded back from the cache, with the float32
    weights' memory given back as far as the allocator allows (a helper process gives back all)."""
    import gc

    from rag.generate import quantization

    model, tokenizer = _load(spec, log, sha256)
    log("quantising the model to int8 (one time for a cached model)…")
    model = quantization.quantise(model)
    try:
        quantization.write_cache(model, tokenizer, cache)
    except OSError as exc:
        log(f"warning: could not cache the int8 model ({exc}); the next start will quantise again")
        return model, tokenizer
    if not load_back:
        return None
    del model
    gc.collect()
    _give_back_freed_memory()
    return quantization.load_cache(cache)


def _give_back_freed_memory() -> None:
    """glibc keeps freed heap pages for reuse; malloc_trim returns them to the system (Linux only)."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _load(spec: str, log, gguf_sha256: str | None = None):
    """float32 weights; `gguf_sha256` spares hashing a GGUF file the caller has hashed already."""
    if spec.lower() in model_files.BUNDLED:
        bundled = model_files.BUNDLED[spec.lower()]
        cache = model_files.weights_cache(bundled.sha256)
        if model_files.cache_is_complete(cache):
            return _load_folder(cache, local_only=True)
        with model_files.preparing(bundled.sha256, log):
            if model_files.cache_is_complete(cache):  # filled by another process while this one waited
                return _load_folder(cache, local_only=True)
            gguf = model_files.assemble(bundled)
            loaded = _load_gguf(gguf, bundled.sha256, log)
            if model_files.cache_is_complete(cache):
                model_files.discard_assembled(bundled)
            return loaded
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise UserError(f"no GGUF file at {path}")
        sha256 = gguf_sha256 or model_files.sha256_file(path)
        with model_files.preparing(sha256, log):
            return _load_gguf(path.resolve(), sha256, log)
    if path.is_dir():
        return _load_folder(path, local_only=True)
    try:
        return _load_folder(spec, local_only=os.environ.get("HF_HUB_OFFLINE") == "1")
    except (OSError, ValueError) as exc:
        raise UserError(
            f"model {spec!r} is not available locally and cannot be downloaded here ({exc.__class__.__name__}); "
            f"the default {model_files.DEFAULT_MODEL} works offline"
        ) from exc


_LOADED: dict[GeneratorConfig, TransformersGenerator] = {}
_LOADING = threading.Lock()
KEEP_LOADED = 2  # models held at once (a third evicts the oldest)


def load_generator(config: GeneratorConfig = GeneratorConfig(), log=print) -> TransformersGenerator:
    """The process-wide model for a configuration: loaded once, shared by every request.

    Keyed by the configuration alone: `log` only reports progress, and a new callable per call
    must not load the model again.
    """
    with _LOADING:
        if config not in _LOADED:
            while len(_LOADED) >= KEEP_LOADED:
                _LOADED.pop(next(iter(_LOADED)))
            _LOADED[config] = _load_generator(config, log)
        return _LOADED[config]


def _load_generator(config: GeneratorConfig, log) -> TransformersGenerator:
    import torch

    _quiet_transformers()
    if config.threads:
        torch.set_num_threads(config.threads)
    started = time.perf_counter()
    if config.precision not in PRECISIONS:
        raise UserError(f"unknown precision {config.precision!r}; use one of {', '.join(PRECISIONS)}")
    model, tokenizer = (_load_int8 if config.precision == "int8" else _load)(config.model, log)
    bundled = model_files.BUNDLED.get(config.model.lower())  # heads are trained for bundled models only
    generator = TransformersGenerator(model, tokenizer, config.model, config,
                                      states_key=f"{bundled.sha256}:{config.precision}" if bundled else None)
    generator.load_seconds = time.perf_counter() - started
    return generator
