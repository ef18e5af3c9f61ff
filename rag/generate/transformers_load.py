"""Loading the language model through transformers: the bundled GGUF (dequantised once, kept as
an int8 cache), a folder, or a hub id; once per configuration and process.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from rag.errors import UserError
from rag.generate import model_files
from rag.generate.base import GeneratorConfig
from rag.generate.transformers_lm import TransformersGenerator
from rag.settings import PRECISIONS


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

    from safetensors import SafetensorError

    if not model_files.cache_is_complete(cache):
        return None
    try:
        return quantization.load_cache(cache)
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:  # a cut or overwritten weights file
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
