"""The examples an answerability head is trained on, as the product sees each question: the
part's documents indexed, the question's passages retrieved, set aside and fitted into the prompt
by the answer pipeline itself, one forward pass for the last prompt token's state at each layer,
and the retrieval signals the pipeline computes; cached per question (an interrupted run resumes).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.calibrate.states import prefill_states
from eval.datasets import dataset_dir, read_jsonl

SEED = 13
SQUAD10 = dataset_dir("squad2_train_10") / "train-v2.0-10-articles.json"


@dataclass(frozen=True)
class Example:
    part: str
    qid: str
    group: str  # the article (or paper, or document) the question is about: folds never split one
    label: int  # 1 answerable and shown, 0 unanswerable, -1 answerable but its gold not shown
    states: dict  # layer -> vector
    signals: dict  # the retrieval signals the pipeline reads for the same question (RETRIEVAL_SIGNALS)


def squad10_part(out: Path, per_article: int) -> Path:
    """OUT/squad10-training: questions.jsonl + docs/, one document per paragraph (as the CCT part)."""
    from eval.calibrate.parts import sample, squad_doc, squad_row

    folder = out / "squad10-training"
    if (folder / "questions.jsonl").is_file():
        return folder
    articles = json.loads(SQUAD10.read_text(encoding="utf-8"))["data"]
    (folder / "docs").mkdir(parents=True, exist_ok=True)
    rows = []
    for a, article in enumerate(articles):
        answerable, unanswerable = [], []
        for j, paragraph in enumerate(article["paragraphs"]):
            (folder / "docs" / f"a{a:02d}-p{j:03d}.md").write_text(squad_doc(article["title"], paragraph["context"]),
                                                                   encoding="utf-8")
            for qa in paragraph["qas"]:
                ok = not qa.get("is_impossible") and bool(qa.get("answers"))
                (answerable if ok else unanswerable).append(squad_row(qa, ok, article=article["title"]))
        rows += sample(answerable, per_article, seed=SEED + a) + unanswerable
    (folder / "questions.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                            encoding="utf-8")
    return folder


def positive(text: str) -> int:
    """argparse type: a count that must be at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def checked_layers(generator, layers) -> tuple[int, ...]:
    """The layers asked for, each one the model has (1 .. its block count): a wrong one is one line,
    not an IndexError after the model loaded and the first pass ran."""
    from rag.errors import UserError

    count = generator.model.config.num_hidden_layers
    wrong = [layer for layer in layers if not 1 <= layer <= count]
    if wrong:
        raise UserError(f"--layers {' '.join(map(str, wrong))}: {generator.name} has layers 1 to {count}")
    return tuple(layers)


def part_rows(folder: Path) -> list[dict]:
    """A part's questions (questions.jsonl: id, question, answers, and the article or document)."""
    return read_jsonl(folder / "questions.jsonl")


def group_of(part: str, row: dict) -> str:
    """The fold group: an article, a paper or a report; a one-article part (SQuAD CCT, split by
    paragraph; the sample) is one group, so no fold trains on the article it is scored on."""
    for key in ("article", "paper", "document"):
        if key in row:
            return f"{part}:{key}={row[key]}"
    return f"{part}:all"


def gold_shown(answers: list[str], texts: tuple[str, ...]) -> bool:
    shown = " ".join(" ".join(t.split()) for t in texts).lower()
    return any(" ".join(a.split()).lower() in shown for a in answers)


def retrieval_signals(pipeline, question: str) -> dict:
    """The retrieval signals of one question, computed as the answer pipeline computes them."""
    from eval.lab import retrieval_signals as measured
    from eval.lab import ranked_shown

    parsed = pipeline.parse(question)
    prepared = pipeline.prepare(parsed)
    fitted = prepared.fitted
    shown = ranked_shown(fitted, question, prepared.ranked, pipeline.embed) if fitted.passages else []
    signals = measured(parsed.terms, list(fitted.passages), pipeline.retriever.index.bm25.vocab_dict)
    signals["quote_score"] = shown[0].score if shown else 0.0
    return {k: float(v) for k, v in signals.items()}


def capped(rows: list[dict], per_article: int | None) -> list[dict]:
    """At most `per_article` answerable and as many unanswerable questions per article, seeded:
    a smaller training part for a slower model."""
    if per_article is None:
        return rows
    from eval.calibrate.parts import sample

    kept = []
    for n, article in enumerate(sorted({r.get("article", "") for r in rows})):
        mine = [r for r in rows if r.get("article", "") == article]
        kept += sample([r for r in mine if r["answers"]], per_article, seed=SEED + n)
        kept += sample([r for r in mine if not r["answers"]], per_article, seed=SEED + n)
    return kept


def extract(folder: Path, cache: Path, pipeline_for, layers: tuple[int, ...],
            per_article: int | None = None) -> list[Example]:
    """Every question's states and retrieval signals, from the cache or by one forward pass each
    (resumable: states per question, signals per part)."""
    from tqdm import tqdm

    from eval.lab import check_query

    rows = part_rows(folder)
    if folder.name == "squad10-training":
        rows = capped(rows, per_article)
    cache.mkdir(parents=True, exist_ok=True)
    signals_path = cache / "signals.json"
    cached_signals = json.loads(signals_path.read_text(encoding="utf-8")) if signals_path.is_file() else {}
    pipeline, examples = None, []
    for row in tqdm(rows, desc=folder.name, unit="q", file=sys.stderr):
        path = cache / f"{hashlib.sha1(row['id'].encode()).hexdigest()[:16]}.npz"
        if row["id"] not in cached_signals:
            pipeline = pipeline or pipeline_for(folder)
            question = check_query(row["question"], pipeline.config.k, pipeline.config.mode)
            cached_signals[row["id"]] = retrieval_signals(pipeline, question)
        if not path.is_file():
            pipeline = pipeline or pipeline_for(folder)
            question = check_query(row["question"], pipeline.config.k, pipeline.config.mode)
            fitted = pipeline.prepare(question, pipeline.config.k, pipeline.config.mode).fitted
            label = (1 if gold_shown(row["answers"], fitted.texts) else -1) if row["answers"] else 0
            if not fitted.passages:
                label = -1 if row["answers"] else 0
            states = prefill_states(pipeline.generator, fitted.messages, layers)
            partial = path.with_suffix(".tmp.npz")
            np.savez(partial, label=label, **{f"layer{k}": v.astype(np.float16) for k, v in states.items()})
            partial.replace(path)
        with np.load(path) as data:
            states = {int(k[5:]): data[k].astype(np.float32) for k in data.files if k.startswith("layer")}
            examples.append(Example(folder.name, row["id"], group_of(folder.name, row), int(data["label"]), states,
                                    cached_signals[row["id"]]))
    signals_path.write_text(json.dumps(cached_signals), encoding="utf-8")
    return examples
