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


def load_squad(path: Path, docs_dir: Path) -> list[Question]:
    """SQuAD JSON: each paragraph becomes a document file; its questions' gold is that file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a SQuAD file ({exc.__class__.__name__})") from None
    try:
        questions = _squad_questions(data, docs_dir)
    except (KeyError, TypeError, AttributeError) as exc:
        field = f"field {exc.args[0]!r}" if isinstance(exc, KeyError) else exc.__class__.__name__
        raise UserError(f"{path}: not a SQuAD file (missing or malformed {field})") from None
    if not questions:
        raise UserError(f"{path}: no questions")
    return questions


def _squad_questions(data, docs_dir: Path) -> list[Question]:
    docs_dir.mkdir(parents=True, exist_ok=True)
    questions, number = [], 0
    for article in data:
        title = " ".join(str(article.get("title", "")).replace("_", " ").split())
        for paragraph in article.get("paragraphs", []):
            number += 1
            stem = f"p{number:05d}"
            doc = docs_dir / f"{stem}.md"
            if not doc.exists():
                heading = f"# {title}\n\n" if title else ""
                doc.write_text(heading + paragraph["context"].strip() + "\n", encoding="utf-8")
            for qa in paragraph.get("qas", []):
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                questions.append(Question(str(qa["id"]), qa["question"].strip(), answers, (), {"sources": [stem]}))
    return questions


def load_beir_questions(folder: Path, docs_dir: Path, split: str = "test") -> list[Question]:
    """BEIR folder: retrieval-only questions whose gold is the qrels' documents."""
    from eval.datasets import load_beir, write_corpus

    data = load_beir(folder, split)
    stem_of = {doc: stem for stem, doc in write_corpus(data.corpus, docs_dir).items()}
    return [Question(qid, text, (), (), {"sources": [stem_of[d] for d in data.qrels[qid] if d in stem_of],
                                           "retrieval_only": True})
            for qid, text in data.queries.items()]


def load_question_set(path: Path, docs_dir: Path) -> tuple[list[Question], Path | None]:
    """By shape: a folder is BEIR, a .json file SQuAD, anything else JSON Lines (documents: None)."""
    if not path.exists():
        raise UserError(f"no such question set: {path}")
    if path.is_dir():
        return load_beir_questions(path, docs_dir), docs_dir
    if path.suffix.lower() == ".json":
        return load_squad(path, docs_dir), docs_dir
    return load_jsonl(path), None
