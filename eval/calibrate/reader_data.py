"""Training data for the sentence reader: for each question, candidate sentences with the one that
holds the gold answer marked, or none for a question the text does not answer.

    python -m eval.calibrate.reader_data OUT [--per-source 2500] [--candidates 8]

Sources, never a test part (each named in OUT/manifest.json with its file's SHA-256):

- `eval/data/squad2_train_10`: ten SQuAD 2.0 training articles, with their adversarial
  unanswerable questions (CC BY-SA 4.0);
- the COVID-QA papers that neither cross-domain part uses (Apache-2.0).

The calibration parts are held out whole, so the reader is measured on them out of fold (and
the test parts are only ever run once, after the rule has been applied).

Candidates: the gold sentence and the sentences of the same article that share the most topic
terms with the question (hard negatives: what retrieval would bring), so a question is read
among look-alikes. Unanswerables are scarce, so some are made, each marked in its row:

- "swap": a name, number or date of the question is swapped for another of the same kind from
  the same article, and kept only if no sentence of the article then holds both the new term
  and the original answer;
- "foreign": the question against another article's sentences (few: easy negatives).

Every row is checked against the test parts (its question and its sentences); one that appears
there stops the build with one line and exit 2.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from eval.calibrate.parts import DATASETS, all_parts
from rag.errors import UserError

SEED = 13
SQUAD10 = DATASETS / "squad2_train_10" / "train-v2.0-10-articles.json"
COVIDQA = DATASETS / "covidqa_200423" / "200423_covidQA.json"
SWAP_SHARE = 0.25  # made "swap" unanswerables per answerable question kept
FOREIGN_SHARE = 0.05  # made "foreign" unanswerables per answerable question kept
_NAME = re.compile(r"(?<!^)(?<![.?!] )\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)\b")
_NUMBER = re.compile(r"\b(\d{1,4}(?:[.,]\d+)?)\b")


@dataclass
class Article:
    """One article or paper: its title and sentences, each with its character start."""

    source: str
    title: str
    sentences: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, source: str, title: str, contexts: list[str]) -> "Article":
        from eval.lab import split_sentences

        article, offset = cls(source, title), 0
        for context in contexts:
            position = 0
            for sentence in split_sentences(context):
                at = context.find(sentence, position)
                article.sentences.append(sentence)
                article.starts.append(offset + max(at, 0))
                position = max(at, 0) + len(sentence)
            offset += len(context) + 1
        return article

    def at(self, start: int) -> int:
        """The sentence holding character `start` (of the joined contexts)."""
        return max(i for i, s in enumerate(self.starts) if s <= start) if self.starts else -1


def candidates(question: str, article: Article, gold: int, count: int, terms) -> list[int]:
    """The gold sentence (when there is one) and the article's sentences sharing the most topic
    terms with the question, `count` in all, in a seeded order."""
    wanted = terms(question)
    ranked = sorted((i for i in range(len(article.sentences)) if i != gold),
                    key=lambda i: (-len(wanted & terms(article.sentences[i])), i))
    chosen = ([gold] if gold >= 0 else []) + ranked[:count - (1 if gold >= 0 else 0)]
    random.Random(f"{SEED}:{question}").shuffle(chosen)
    return chosen


def swapped(question: str, answer: str, article: Article, rng: random.Random) -> str | None:
    """The question with one name or number swapped for another of the article's, when no
    sentence of the article holds both the new term and the answer; None when none qualifies."""
    text = " ".join(article.sentences)
    for pattern in (_NAME, _NUMBER):
        found = [m for m in pattern.finditer(question)]
        pool = sorted({m.group(1) for m in pattern.finditer(text)} - {m.group(1) for m in found})
        if not found or not pool:
            continue
        target = rng.choice(found)
        for other in rng.sample(pool, min(len(pool), 12)):
            if not any(other in s and answer in s for s in article.sentences):
                return question[:target.start(1)] + other + question[target.end(1):]
    return None


def answer_at(article: Article, gold: int, answer: str, start: int | None) -> int:
    """Where the answer starts in the gold sentence (-1: it crosses the sentence's end)."""
    if gold < 0 or not answer or start is None:
        return -1
    sentence, at = article.sentences[gold], start - article.starts[gold]
    if sentence[at:at + len(answer)] == answer:
        return at
    return sentence.find(answer)


def row(source: str, qid: str, question: str, article: Article, chosen: list[int], gold: int, made: str = "",
        answer: str = "", start: int | None = None) -> dict:
    """One question's candidates; for an answerable one also its answer and where it starts in the
    gold sentence (the span reader's target)."""
    return {"source": source, "id": qid, "question": " ".join(question.split()), "title": article.title,
            "sentences": [article.sentences[i] for i in chosen], "gold": chosen.index(gold) if gold in chosen else -1,
            "made": made, "answer": answer if gold >= 0 else "", "answer_start": answer_at(article, gold, answer, start)}


def squad_articles() -> list[tuple[Article, list[dict]]]:
    """(article, its questions with the gold's offset in the joined paragraphs) of SQuAD 2.0's ten."""
    out = []
    for data in json.loads(SQUAD10.read_text(encoding="utf-8"))["data"]:
        contexts = [p["context"] for p in data["paragraphs"]]
        article = Article.of("squad2_train_10", data["title"].replace("_", " "), contexts)
        offset, questions = 0, []
        for paragraph in data["paragraphs"]:
            for qa in paragraph["qas"]:
                answer = qa["answers"][0] if qa.get("answers") and not qa.get("is_impossible") else None
                questions.append({"id": qa["id"], "question": qa["question"],
                                  "answer": answer["text"] if answer else "",
                                  "start": offset + answer["answer_start"] if answer else None})
            offset += len(paragraph["context"]) + 1
        out.append((article, questions))
    return out


def covid_articles(used: set[str]) -> list[tuple[Article, list[dict]]]:
    """The COVID-QA papers whose text no cross-domain part holds."""
    out = []
    for i, paper in enumerate(json.loads(COVIDQA.read_text(encoding="utf-8"))["data"]):
        context = paper["paragraphs"][0]["context"]
        if " ".join(context.split())[:400] in used:
            continue
        article = Article.of("covidqa_unused", f"paper {paper['paragraphs'][0].get('document_id', i)}", [context])
        questions = [{"id": f"covid-{qa['id']}", "question": qa["question"], "answer": qa["answers"][0]["text"],
                      "start": qa["answers"][0]["answer_start"]} for qa in paper["paragraphs"][0]["qas"]]
        out.append((article, questions))
    return out


def rows_of(articles: list[tuple[Article, list[dict]]], limit: int, count: int, rng: random.Random, terms) -> list[dict]:
    """Every question's row (answerable ones capped at `limit`, seeded), with the made unanswerables."""
    rows, made = [], []
    answerable = [(a, q) for a, qs in articles for q in qs if q["start"] is not None]
    for article, q in rng.sample(answerable, min(limit, len(answerable))):
        gold = article.at(q["start"])
        rows.append(row(article.source, q["id"], q["question"], article, candidates(q["question"], article, gold, count, terms),
                        gold, answer=q["answer"], start=q["start"]))
        if rng.random() < SWAP_SHARE and (other := swapped(q["question"], q["answer"], article, rng)):
            made.append(row(article.source, f"{q['id']}-swap", other, article,
                            candidates(other, article, -1, count, terms), -1, "swap"))
        if rng.random() < FOREIGN_SHARE and len(articles) > 1:
            foreign = rng.choice([a for a, _ in articles if a is not article])
            made.append(row(article.source, f"{q['id']}-foreign", q["question"], foreign,
                            candidates(q["question"], foreign, -1, count, terms), -1, "foreign"))
    rows += [row(a.source, q["id"], q["question"], a, candidates(q["question"], a, -1, count, terms), -1)
             for a, qs in articles for q in qs if q["start"] is None]  # the set's own unanswerables
    return rows + made


def part_texts(role: str | None = None) -> tuple[set[str], list[str]]:
    """The questions (normalised) and the documents' texts (spaces normalised) of the cross-domain
    parts of a role (None: every part)."""
    questions, texts = set(), []
    for part in all_parts():
        if role is not None and part.role != role:
            continue
        questions |= {" ".join(r["question"].split()).lower() for r in part.questions}
        texts += [" ".join(t.split()) for t in part.docs.values()]
        texts += [" ".join(p.read_text(encoding="utf-8", errors="replace").split()) for p in part.doc_paths
                  if p.suffix in (".md", ".txt")]
    return questions, texts


def check_apart(rows: list[dict], questions: set[str], test_text: str) -> None:
    """A row whose question or gold sentence (of 40 characters or more) is a test part's stops
    the build (UserError)."""
    for r in rows:
        gold = r["sentences"][r["gold"]] if r["gold"] >= 0 else ""
        if r["question"].lower() in questions or (len(gold) >= 40 and " ".join(gold.split()) in test_text):
            raise UserError(f"row {r['id']} of {r['source']} is in a test part; the reader never trains on one")


def build(out: Path, per_source: int, count: int) -> dict:
    from eval.lab import terms

    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; name a folder for the reader's data")
    questions, test_texts = part_texts("test")
    _, every_text = part_texts()
    rng = random.Random(SEED)
    rows = []
    for articles in (squad_articles(), covid_articles({text[:400] for text in every_text})):
        rows += rows_of(articles, per_source, count, rng, terms)
    check_apart(rows, questions, "\n".join(test_texts))
    out.mkdir(parents=True, exist_ok=True)
    (out / "rows.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    manifest = {"command": "python -m eval.calibrate.reader_data " + " ".join(sys.argv[1:]), "seed": SEED,
                "sources": {str(p.relative_to(DATASETS)): hashlib.sha256(p.read_bytes()).hexdigest()
                            for p in (SQUAD10, COVIDQA)},
                "held_out": "every cross-domain part (calibration: measured out of fold; test: never read)",
                "rows": {f"{s}:{m or 'given'}:{'answerable' if g else 'unanswerable'}":
                         sum(r["source"] == s and r["made"] == m and (r["gold"] >= 0) == g for r in rows)
                         for s in sorted({r["source"] for r in rows}) for m in ("", "swap", "foreign") for g in (True, False)}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate.reader_data", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-source", type=int, default=2500, help="answerable questions kept per source")
    parser.add_argument("--candidates", type=int, default=8, help="sentences read per question")
    args = parser.parse_args(argv)
    if args.per_source < 1 or args.candidates < 2:
        parser.error("--per-source must be at least 1 and --candidates at least 2")
    manifest = build(args.out, args.per_source, args.candidates)
    print(json.dumps(manifest["rows"], indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    from eval import run_command

    sys.exit(run_command(main))
