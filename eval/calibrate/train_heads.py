"""Train the answerability head on the default model's hidden states, from labelled public data.

    python -m eval.calibrate.train_heads OUT [--squad-answerable-per-article 40] [--layers 6 9 12 15 18 21 24]

1. Parts: the cross-domain protocol's calibration parts (built under OUT if missing) and a
   training part of ten SQuAD 2.0 training articles (`eval/data/squad2_train_10`): all its
   unanswerable questions and a seeded sample of answerable ones per article. Test parts are
   never read.
2. Features, as the product sees a question: each part's documents are indexed, the question's
   passages retrieved, set aside and fitted into the prompt by the answer pipeline itself, and one
   forward pass gives the last prompt token's state at each layer. Cached per question under
   OUT/head-features/ (an interrupted run resumes), with a progress bar.
3. Labels: 1 when the question is answerable and its gold answer is in the passages shown, 0 when
   it is unanswerable; answerable questions whose gold was not shown are left out of the fit.
4. Fit (seconds): standardised logistic regression per layer and regularisation, scored by
   out-of-fold AUC with folds grouped by article. Declared objective: the mean per-set AUC over
   the sets with both labels. Then the decision: the head's out-of-fold logit alone, or with the
   retrieval signals (cosine, coverage, unknown terms, quote score: what the pipeline computes
   before the model speaks), compared by the same objective. The head then joins the shipped
   fitted decision as a veto: refuse when P_head is below the highest threshold at which its
   out-of-fold scores refuse at most 3% of the calibration parts' answerable questions.
5. Writes rag/answer/heads/answerability-<model>-<precision>.json with its provenance, and
   OUT/head-report.md with the per-layer figures.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from eval import EVAL_DIR
from eval.calibrate.head_data import SQUAD10, Example, checked_layers, extract, part_rows, positive, squad10_part
from eval.datasets import dataset_dir
from rag.answer.decision import Signals

LAYERS = (6, 9, 12, 15, 18, 21, 24)
C_GRID = (0.003, 0.01, 0.03, 0.1)
MAX_VETO_FALSE_REFUSALS = 0.03  # declared before the test parts ran: the head may cost at most 3% of answers


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if len(set(labels.tolist())) == 2 else None


def out_of_fold(examples: list[Example], layer: int, c: float, folds: int = 5) -> np.ndarray:
    """The head's out-of-fold probabilities from one layer's states."""
    return out_of_fold_matrix(examples, np.stack([e.states[layer] for e in examples]), c, folds)


RETRIEVAL_SIGNALS = Signals.names("retrieval")  # what the pipeline knows before any draft
DECISIONS = {  # candidate decisions over the head's out-of-fold logit and the retrieval signals
    "head alone": ("head",),
    "head + retrieval signals": ("head",) + RETRIEVAL_SIGNALS,
    "retrieval signals alone": RETRIEVAL_SIGNALS,
}


def decision_matrix(examples: list[Example], head_scores: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """Rows of the decision's features: the head as a logit (from its out-of-fold probability)."""
    clipped = np.clip(head_scores, 1e-6, 1 - 1e-6)
    columns = {"head": np.log(clipped / (1 - clipped))}
    for name in RETRIEVAL_SIGNALS:
        columns[name] = np.array([e.signals[name] for e in examples])
    return np.stack([columns[f] for f in features], axis=1)


def out_of_fold_matrix(examples: list[Example], x: np.ndarray, c: float = 1.0, folds: int = 5) -> np.ndarray:
    """Standardised logistic regression, scored out of fold with folds grouped by article."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.array([e.label for e in examples])
    groups = np.array([e.group for e in examples])
    scores = np.zeros(len(examples))
    for train, held in GroupKFold(n_splits=folds).split(x, y, groups):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        model.fit(x[train], y[train])
        scores[held] = model.predict_proba(x[held])[:, 1]
    return scores


def per_set_auc(examples: list[Example], scores: np.ndarray) -> dict[str, float]:
    labels = np.array([e.label for e in examples])
    parts = np.array([e.part for e in examples])
    result = {}
    for part in sorted(set(parts.tolist())):
        value = auc(labels[parts == part], scores[parts == part])
        if value is not None:
            result[part] = value
    return result


def leave_one_article_out(examples: list[Example], layer: int, c: float) -> dict[str, float]:
    """AUC on each SQuAD 2.0 article with both labels, trained on everything else."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    squad = {e.group for e in examples if e.part.startswith(("squad10", "squad_cct"))}
    by_article = {g: [e for e in examples if e.group == g] for g in squad}
    result = {}
    for name, held in sorted(by_article.items()):
        if len({e.label for e in held}) < 2:
            continue
        held_ids = {id(e) for e in held}
        train = [e for e in examples if id(e) not in held_ids]
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        model.fit(np.stack([e.states[layer] for e in train]), [e.label for e in train])
        result[name] = auc(np.array([e.label for e in held]),
                           model.predict_proba(np.stack([e.states[layer] for e in held]))[:, 1])
    return result


def choose_threshold(examples: list[Example], scores: np.ndarray, share: float = 0.10) -> float:
    """The highest threshold that refuses at most `share` of the calibration parts' answerable
    questions (out-of-fold scores)."""
    answerable = np.sort(np.array([s for e, s in zip(examples, scores)
                                   if e.label == 1 and e.part.endswith("-calibration")]))
    allowed = int(np.floor(share * len(answerable)))
    return float(answerable[allowed]) if len(answerable) else 0.5


def fit_final(examples: list[Example], layer: int, c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.stack([e.states[layer] for e in examples])
    y = np.array([e.label for e in examples])
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x), y)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    return scaler.mean_, scale, model.coef_[0], float(model.intercept_[0])


def test_report(head, folders: list[Path], out: Path, pipeline_for, key: str) -> list[str]:
    """The written head on the test parts, after everything was chosen: its AUC per part and what
    its veto refuses (answerable and shown; unanswerable)."""
    lines = ["", "## The written head on the test parts (after fitting; never used to choose)", "",
             "| part | AUC | answerable (shown) vetoed | unanswerable vetoed |", "|---|---|---|---|"]
    for folder in folders:
        found = [e for e in extract(folder, out / "head-features" / key.replace(":", "-") / folder.name,
                                    pipeline_for, (head.layer,)) if e.label >= 0]
        p = np.array([head.probability(e.states) for e in found])
        labels = np.array([e.label for e in found])
        value = auc(labels, p)
        vetoed = p < head.veto_below
        share = lambda mask: f"{vetoed[mask].mean():.1%} of {mask.sum()}" if mask.any() else "–"
        lines.append(f"| {folder.name} | {value:.3f} | " if value is not None else f"| {folder.name} | – | ")
        lines[-1] += f"{share(labels == 1)} | {share(labels == 0)} |"
    return lines


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv=None) -> int:
    from rag.errors import UserError

    parser = argparse.ArgumentParser(prog="python -m eval.calibrate.train_heads", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="work folder: parts, feature cache, report")
    parser.add_argument("--squad-answerable-per-article", type=positive, default=40)
    parser.add_argument("--layers", type=positive, nargs="+", default=list(LAYERS))
    parser.add_argument("--write", type=Path, default=None, help="head file (default: the package's)")
    parser.add_argument("--model", default=None,
                        help="the bundled model to train for (default: the default one; e.g. qwen2.5-coder-1.5b)")
    parser.add_argument("--squad-per-article", type=positive, default=None,
                        help="use at most this many answerable and unanswerable SQuAD training questions per article "
                             "(a slower model); default: the whole training part")
    parser.add_argument("--test-report", action="store_true",
                        help="after the head is written, score it on the test parts (never used to fit or choose)")
    args = parser.parse_args(argv)
    try:
        if args.out.exists() and not args.out.is_dir():
            raise UserError(f"{args.out} is a file; name a folder")
        return train(args)
    except UserError as exc:
        print(f"train_heads: error: {exc}", file=sys.stderr)
        return 2


def train(args) -> int:
    out: Path = args.out
    generator, layers, pipeline_for, examples = gather(args)
    labelled = [e for e in examples if e.label >= 0]
    parts = sorted({e.part for e in labelled})
    lines = [f"# Answerability head: {generator.name} ({generator.states_key})", "",
             f"{len(labelled)} labelled questions ({sum(e.label for e in labelled)} answerable and shown, "
             f"{sum(e.label == 0 for e in labelled)} unanswerable); {len(examples) - len(labelled)} answerable "
             f"questions whose gold was not shown left out.", "",
             "Out-of-fold AUC, folds grouped by article:", "",
             "| layer | C | mean per-set AUC | " + " | ".join(parts) + " |", "|---|---|---|" + "---|" * len(parts)]
    mean, layer, c, scores, sets = choose_head(labelled, layers, parts, lines)
    loao = {lay: leave_one_article_out(labelled, lay, c) for lay in layers}
    lines += ["", f"Head chosen: layer {layer}, C {c} (mean per-set AUC {mean:.3f}).", ""]
    decisions = compare_decisions(labelled, scores, sets, lines)
    veto_below = choose_threshold(labelled, scores, MAX_VETO_FALSE_REFUSALS)
    with_head, without = decisions["head + retrieval signals"][0], decisions["retrieval signals alone"][0]
    lines += ["", f"In a refit with the retrieval signals the head moves the mean per-set AUC from {without:.3f} "
              f"(signals alone) to {with_head:.3f}. The shipped fitted decision also reads the model's output "
              "signals, and refitting it with the head needs a calibration run of the whole pipeline, so the head "
              f"joins it as a veto: refuse when P_head < {veto_below:.4f}, the threshold at which its out-of-fold "
              f"scores refuse ≤ {MAX_VETO_FALSE_REFUSALS:.0%} of the calibration parts' answerable questions.", "",
              f"Leave-one-article-out AUC on the SQuAD 2.0 articles with unanswerable questions (C {c}):", "",
              "| layer | " + " | ".join(sorted(loao[layer])) + " |", "|---|" + "---|" * len(loao[layer])]
    lines += [f"| {lay} | " + " | ".join(f"{v:.3f}" for _, v in sorted(loao[lay].items())) + " |" for lay in layers]
    record = provenance(args, generator, labelled, layers, (layer, c), sets, decisions, loao[layer])
    head, target = write_head(args, generator, labelled, layer, c, veto_below, record)
    if args.test_report:
        from eval.calibrate.parts import part_folders

        with_both = [f for f in part_folders(out, "test")  # an AUC needs both labels (not COVID-QA)
                     if any(not row["answers"] for row in part_rows(f))]
        lines += test_report(head, with_both, out, pipeline_for, generator.states_key)
    report = out / ("head-report.md" if args.model is None else f"head-report-{generator.states_key[:16]}.md")
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {target}", file=sys.stderr)
    return 0


def gather(args):
    """(the model, its layers to try, a pipeline per part folder, every question's example)."""
    from eval.calibrate.parts import all_parts, part_folders, write as write_parts
    from eval import lab
    from rag.errors import UserError
    from rag.library import Library
    from rag.settings import Settings

    out: Path = args.out
    if not any(out.glob("*-calibration")):
        write_parts([p for p in all_parts()], out)
    folders = [squad10_part(out, args.squad_answerable_per_article)] + part_folders(out, "calibration")
    settings = Settings(answerability="signals", model=args.model)  # features never depend on a head trained before
    embedder = lab.load_embedder(settings.embedding_model)
    generator = lab.load_generator(settings, embedder, log=lambda m: print(m, file=sys.stderr))
    if generator.states_key is None:
        raise UserError(f"{generator.name} has no hidden states to train on")
    layers = checked_layers(generator, args.layers)

    def pipeline_for(folder: Path):
        Library(settings, folder / "index", embedder).index([folder / "docs"])
        return lab.answer_pipeline(lab.open_retriever(settings, folder / "index"), generator,
                                        lab.answer_config(settings), settings.answerability)

    examples = []
    for folder in folders:
        examples += extract(folder, out / "head-features" / generator.states_key.replace(":", "-") / folder.name,
                            pipeline_for, layers, args.squad_per_article)
    return generator, layers, pipeline_for, examples


def choose_head(labelled: list[Example], layers, parts: list[str], lines: list[str]):
    """The layer and regularisation with the best mean per-set out-of-fold AUC (a row each in `lines`):
    (that mean, the layer, C, the out-of-fold scores, the AUC per set)."""
    best = None
    for layer in layers:
        for c in C_GRID:
            scores = out_of_fold(labelled, layer, c)
            sets = per_set_auc(labelled, scores)
            mean = float(np.mean(list(sets.values())))
            lines.append(f"| {layer} | {c} | {mean:.3f} | "
                         + " | ".join(f"{sets[p]:.3f}" if p in sets else "–" for p in parts) + " |")
            if best is None or mean > best[0]:
                best = (mean, layer, c, scores, sets)
    return best


def compare_decisions(labelled: list[Example], scores: np.ndarray, sets: dict, lines: list[str]) -> dict:
    """Each candidate decision over the head's out-of-fold logit and the retrieval signals, scored
    by the same objective (a row each in `lines`)."""
    lines += ["Decisions over the head's out-of-fold logit and the retrieval signals, out-of-fold AUC:", "",
              "| decision | mean per-set AUC | " + " | ".join(sorted(sets)) + " |", "|---|---|" + "---|" * len(sets)]
    decisions = {}
    for name, features in DECISIONS.items():
        x = decision_matrix(labelled, scores, features)
        oof = out_of_fold_matrix(labelled, x)
        by_set = per_set_auc(labelled, oof)
        decisions[name] = (float(np.mean(list(by_set.values()))), features, x, oof, by_set)
        lines.append(f"| {name} | {decisions[name][0]:.3f} | " + " | ".join(f"{by_set[p]:.3f}" for p in sorted(sets)) + " |")
    return decisions


def provenance(args, generator, labelled: list[Example], layers, chosen: tuple, sets: dict, decisions: dict,
               loao: dict) -> dict:
    """What the head file records of how it was made: command, commit, choices, figures, data hashes."""
    from eval.calibrate.parts import DATASETS

    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=EVAL_DIR).stdout.strip()
    return {
        "trained_by": "python -m eval.calibrate.train_heads" + (f" --model {args.model}" if args.model else "")
                      + (f" --squad-per-article {args.squad_per_article}" if args.squad_per_article else ""),
        "commit": commit, "model": generator.name,
        "layer_choice": {"layers": list(layers), "C_grid": list(C_GRID), "chosen": list(chosen),
                         "objective": "mean per-set out-of-fold AUC, folds grouped by article"},
        "veto_rule": f"refuse when P_head < the highest threshold with out-of-fold false refusals on calibration "
                     f"answerables <= {MAX_VETO_FALSE_REFUSALS}, on top of the fitted decision (answerability.json)",
        "out_of_fold_auc": {k: round(v, 4) for k, v in sets.items()},
        "decision_out_of_fold_auc": {name: {k: round(v, 4) for k, v in d[4].items()} for name, d in decisions.items()},
        "leave_one_article_out_auc": {k: round(v, 4) for k, v in loao.items()},
        "examples": {p: {"answerable": sum(e.label == 1 for e in labelled if e.part == p),
                         "unanswerable": sum(e.label == 0 for e in labelled if e.part == p)}
                     for p in sorted({e.part for e in labelled})},
        "data_sha256": {str(path.relative_to(dataset_dir(""))): file_sha256(path) for path in
                        [SQUAD10, DATASETS / "squad2_train_cct" / "train-v2.0-computational-complexity.json",
                         DATASETS / "xquad_en" / "xquad.en.json",
                         DATASETS / "covidqa_200423" / "200423_covidQA.json"]},
    }


def write_head(args, generator, labelled: list[Example], layer: int, c: float, veto_below: float, record: dict):
    """The head fitted on every labelled example, written with its provenance: (head, its file)."""
    from rag.answer import heads

    weights_mean, weights_scale, weights, intercept = fit_final(labelled, layer, c)
    head = heads.AnswerabilityHead(generator.states_key, layer, weights_mean, weights_scale, weights, intercept,
                                   round(veto_below, 4))
    target = args.write or heads.head_path(generator.states_key)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(head.to_json(record), indent=1) + "\n", encoding="utf-8")
    return head, target


if __name__ == "__main__":
    raise SystemExit(main())
