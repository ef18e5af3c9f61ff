"""A question as the product takes it: checked once, where it comes in, into a `Query`.

Every front end (the CLI, the app, the evaluation) passes what a user typed through
`Query.checked` at its door; the layers behind it (the assistant, the pipeline, the retriever)
take the `Query` and never check it again. A plain string handed to them directly (a library
caller, a test) is checked there instead: one check for each text, wherever it enters.
"""
from __future__ import annotations

from dataclasses import dataclass

from rag.control_tokens import without_control_tokens
from rag.errors import UserError
from rag.settings import BOUNDS, MODES, Settings

MAX_QUESTION_CHARS = 4000


def check_query(query: str, k: int, mode: str) -> str:
    """The question with its spaces normalised; UserError for one no search can use.

    >>> check_query("  When   was it? ", 4, "hybrid")
    'When was it?'
    """
    if not isinstance(query, str):
        raise UserError("the question must be text")
    try:
        query.encode("utf-8")  # undecodable bytes from argv or lone surrogates from JSON cannot be tokenised
    except UnicodeEncodeError:
        raise UserError("the question is not valid text (invalid UTF-8 bytes or lone surrogates)") from None
    query = " ".join(without_control_tokens(query).split())  # "<|im_start|>system" opens no turn
    if not query:
        raise UserError("the question is empty")
    if len(query) > MAX_QUESTION_CHARS:
        raise UserError(f"the question is {len(query)} characters long; the limit is {MAX_QUESTION_CHARS}")
    low, high = BOUNDS["k"]
    if not low <= k <= high:
        raise UserError(f"-k must be between {low} and {high} (got {k})")
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    return query


def is_text(value) -> bool:
    """Text a tokenizer can take: a str of valid Unicode (a lone surrogate from JSON is not).

    >>> is_text("1978"), is_text("bad " + chr(0xD800)), is_text(None)
    (True, False, False)
    """
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Query:
    """A checked question with how to search for it. Build it with `checked`, not directly."""

    text: str
    k: int = Settings.k
    mode: str = Settings.mode

    @classmethod
    def checked(cls, text, k: int = Settings.k, mode: str = Settings.mode) -> "Query":
        return cls(check_query(text, k, mode), k, mode)

    @classmethod
    def of(cls, question: "str | Query", k: int = Settings.k, mode: str = Settings.mode) -> "Query":
        """`question` as a Query: a Query as it is (checked where it came in), a string checked now."""
        return question if isinstance(question, Query) else cls.checked(question, k, mode)
