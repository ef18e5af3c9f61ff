"""Question sets: the native JSON Lines format, and SQuAD JSON (BEIR is in datasets.py)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import UserError


@dataclass(frozen=True)
class Question:
    """`answers` empty means the documents do not answer it: the right behaviour is to refuse."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_jsonl(path: Path) -> list[Question]:
    """One object per line; unknown fields are kept aside and ignored. Errors name file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read question set {path}: {exc.__class__.__name__}") from None
    questions, seen = [], {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where}: malformed JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise UserError(f"{where}: expected a JSON object")
        text = row.get("question")
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"{where}: missing 'question'")
        qid = str(row.get("id", f"line{number}"))
        if qid in seen:
            raise UserError(f"{where}: duplicate id {qid!r} (first on line {seen[qid]})")
        seen[qid] = number
        answers = row.get("answers") or []
        sections = row.get("sections") or []
        if not isinstance(answers, list) or not isinstance(sections, list):
            raise UserError(f"{where}: 'answers' and 'sections' must be lists")
        extra = {k: v for k, v in row.items() if k not in {"id", "question", "answers", "sections"}}
        questions.append(Question(qid, text.strip(), tuple(map(str, answers)), tuple(map(str, sections)), extra))
    if not questions:
        raise UserError(f"question set {path} is empty")
    return questions
