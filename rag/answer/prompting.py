"""The prompt: numbered passages with their section paths, fitted to the model's context window."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rag.ingest.paragraphs import split_sentences
from rag.records import Passage

REFUSAL_TEXT = "The documents do not say."

SYSTEM = (
    "Answer the question using only the passages below. Answer in one short sentence. "
    f"If the passages do not contain the answer, reply exactly: {REFUSAL_TEXT}"
)



@dataclass(frozen=True)
class FittedPrompt:
    messages: tuple[dict, ...]
    passages: tuple[Passage, ...]  # the passages shown, numbered from 1 in this order
    texts: tuple[str, ...]  # each passage's text as shown (whole sentences, maybe trimmed)
    question: str
    question_truncated: bool
    tokens: int


def passage_block(n: int, passage: Passage, text: str) -> str:
    section = passage.chunk.section[-1] if passage.chunk.section else ""
    header = f"[{n}] ({section})" if section else f"[{n}]"
    return f"{header}\n{text}"


def build_messages(question: str, passages: list[Passage], texts: list[str],
                   question_first: bool = False) -> tuple[dict, ...]:
    """`question_first` also states the question before the passages, so that a causal model's
    passage tokens have read it (what a span head over their states needs); it stays last too,
    where the answer starts."""
    blocks = "\n\n".join(passage_block(i, p, t) for i, (p, t) in enumerate(zip(passages, texts), start=1))
    user = f"Passages:\n{blocks}\n\nQuestion: {question}" if passages else f"Question: {question}"
    if question_first and passages:
        user = f"Question: {question}\n\n{user}"
    return ({"role": "system", "content": SYSTEM}, {"role": "user", "content": user})


def _trim_to_sentences(text: str, keep: int) -> str:
    return " ".join(split_sentences(text)[:keep])


def fit_prompt(question: str, passages: list[Passage], count: Callable[[tuple[dict, ...]], int],
               budget: int, texts: list[str] | None = None, question_first: bool = False) -> FittedPrompt:
    """Drop the lowest-ranked passages until the prompt fits `budget` tokens.

    If the best passage alone does not fit, it is trimmed to its leading whole sentences; a
    question that alone overflows is cut to fit (the caller warns).
    """
    truncated = False
    if count(build_messages(question, [], [])) > budget:
        words = question.split()
        while words and count(build_messages(" ".join(words), [], [])) > budget:
            words = words[: max(1, int(len(words) * 0.9))] if len(words) > 1 else []
        question, truncated = " ".join(words), True
    kept = list(passages)
    texts = list(texts) if texts is not None else [p.chunk.text for p in kept]
    while kept and count(build_messages(question, kept, texts, question_first)) > budget:
        if len(kept) > 1:
            kept.pop()
            texts.pop()
            continue
        sentences = len(split_sentences(texts[0]))
        if sentences <= 1:
            kept, texts = [], []
            break
        texts[0] = _trim_to_sentences(texts[0], sentences - 1)
    messages = build_messages(question, kept, texts, question_first)
    return FittedPrompt(messages, tuple(kept), tuple(texts), question, truncated, count(messages))
