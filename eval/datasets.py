"""Readers for the evaluation formats: BEIR folders (SQuAD and JSONL sets come with `rag eval`)."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from rag.errors import UserError

DATA_DIR = Path(__file__).resolve().parent / "data"  # the public sets, with provenance (eval/data/README.md)


def dataset_dir(name: str) -> Path:
    """A public set's folder in this repository, e.g. dataset_dir("xquad_en")."""
    return DATA_DIR / name


@dataclass(frozen=True)
class BeirSet:
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, float]]  # query id -> doc id -> relevance


def read_jsonl(path: Path) -> list[dict]:
    import gzip

    rows = []
    with (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")) as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise UserError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    return rows


def load_beir(folder: Path, split: str = "test") -> BeirSet:
    """BEIR layout: corpus.jsonl (or corpus.jsonl.gz), queries.jsonl, qrels/<split>.tsv (with a header line)."""
    qrels_path = folder / "qrels" / f"{split}.tsv"
    corpus_path = folder / "corpus.jsonl"
    if not corpus_path.is_file() and (folder / "corpus.jsonl.gz").is_file():
        corpus_path = folder / "corpus.jsonl.gz"
    for needed in (corpus_path, folder / "queries.jsonl", qrels_path):
        if not needed.is_file():
            raise UserError(f"not a BEIR folder: {needed} is missing")
    corpus = {str(r["_id"]): (r.get("title", ""), r.get("text", "")) for r in read_jsonl(corpus_path)}
    qrels: dict[str, dict[str, float]] = {}
    with open(qrels_path, encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        next(reader, None)
        for row in reader:
            if len(row) >= 3 and float(row[2]) > 0:
                qrels.setdefault(row[0], {})[row[1]] = float(row[2])
    queries = {str(r["_id"]): r["text"] for r in read_jsonl(folder / "queries.jsonl") if str(r["_id"]) in qrels}
    return BeirSet(corpus, queries, qrels)


def write_corpus(corpus: dict[str, tuple[str, str]], folder: Path) -> dict[str, str]:
    """One file per document; returns file stem -> document id."""
    folder.mkdir(parents=True, exist_ok=True)
    stems = {}
    for number, (doc_id, (title, text)) in enumerate(corpus.items()):
        stem = f"d{number:07d}"
        stems[stem] = doc_id
        path = folder / f"{stem}.md"
        if not path.exists():
            heading = " ".join(title.split()) or doc_id
            path.write_text(f"# {heading}\n\n{text}\n", encoding="utf-8")
    return stems
