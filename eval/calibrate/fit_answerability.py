"""Fit the answerability decision on the calibration parts of the cross-domain protocol, and store it.

    python -m eval.calibrate.crossdomain build OUT
    python -m eval.calibrate.crossdomain run OUT --part calibration --config eval/configs/collect.toml \
        eval/configs/collect-extractive.toml eval/configs/collect-qwen-1.5b.toml
    python -m eval.calibrate.fit_answerability OUT          # writes rag/answer/answerability.json

Only calibration parts are read (their folders end in "-calibration"); test parts never are.
Label: the question is answerable. Each set weighs the same in the fit, whatever its size, and
the classes are balanced. The threshold is the highest that keeps the (set-weighted) false-refusal
rate on calibration questions at or below MAX_FALSE_REFUSALS: a false refusal of a question the
documents answer costs a user more than an answer to a near miss, shown with its evidence anyway.
Leave-one-set-out AUCs are stored with the fit, as the evidence that it transfers across domains.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

from rag.answer.decision import ANSWERABILITY_FILE, Answerability, Signals
from eval.lab import calibration_kind

MAX_FALSE_REFUSALS = 0.07
VETO_CANDIDATES = Signals.names(binary=True)  # 0/1 signals that may refuse on their own
MAX_VETO_FALSE_REFUSALS = 0.01  # a veto is kept only if it refuses at most this share of answerable ones
WITH_MODEL = Signals.names("retrieval", "draft", "model")
KINDS = {"model": ("collect", WITH_MODEL),  # the extractive answerer has no model's signals
         "extractive": ("collect-extractive", Signals.names("retrieval", "draft")),
         # another model's signals (its confidence, how it refuses) need weights of their own
         calibration_kind("qwen2.5-coder-1.5b"): ("collect-qwen-1.5b", WITH_MODEL)}


def read_rows(out: Path, run_name: str) -> list[dict]:
    from eval.calibrate.parts import part_folders
    from rag.errors import UserError

    rows = []
    for folder in part_folders(out, "calibration"):
        results = folder / run_name / "results.jsonl"
        if not results.exists():
            raise UserError(f"no {results}; run the calibration parts first")
        for line in results.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("signals") and not row["metrics"].get("retrieval_only"):
                rows.append({"set": folder.name.rsplit("-", 1)[0], "answerable": row["metrics"]["answerable"],
                             "signals": row["signals"]})
    return rows


def fusions_of(out: Path, run_name: str) -> set[str]:
    """How hybrid search fused its lists in each calibration part's run (its summary's settings)."""
    from eval.calibrate.parts import part_folders

    return {json.loads((folder / run_name / "summary.json").read_text(encoding="utf-8"))["settings"].get("fusion", "rrf")
            for folder in part_folders(out, "calibration")}


def matrix(rows: list[dict], features: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    x = np.array([[float(r["signals"].get(f, 0.0)) for f in features] for r in rows])
    y = np.array([int(r["answerable"]) for r in rows])
    sets = [r["set"] for r in rows]
    counts = {s: sets.count(s) for s in set(sets)}
    weights = np.array([len(rows) / (len(counts) * counts[s]) for s in sets])
    return x, y, weights, sets


def fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray, C: float = 1.0):
    """A logistic model on standardised signals, classes balanced within the set weights."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0  # a constant signal: its float std would round to 0 when stored
    positive = weights[y == 1].sum()
    negative = weights[y == 0].sum()
    balanced = weights * np.where(y == 1, 0.5 / positive, 0.5 / negative) * len(y)
    model = LogisticRegression(C=C, max_iter=1000).fit((x - mean) / scale, y, sample_weight=balanced)
    return model, mean, scale


def choose_threshold(p: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    """The highest threshold whose weighted false-refusal rate stays within MAX_FALSE_REFUSALS."""
    answerable = y == 1
    best = 0.0
    for t in np.unique(np.round(p, 4)):
        refused = (p < t) & answerable
        if weights[refused].sum() / weights[answerable].sum() <= MAX_FALSE_REFUSALS:
            best = max(best, float(t))
    return round(best, 4)


def choose_vetoes(x: np.ndarray, y: np.ndarray, weights: np.ndarray, features) -> tuple[list[str], dict]:
    """The candidate vetoes that refuse some unanswerable and at most MAX_VETO_FALSE_REFUSALS answerable."""
    kept, report = [], {}
    for veto in VETO_CANDIDATES:
        if veto not in features:
            continue
        on = x[:, features.index(veto)] >= 0.5
        false_refusals = float(weights[on & (y == 1)].sum() / weights[y == 1].sum())
        caught = float(weights[on & (y == 0)].sum() / max(weights[y == 0].sum(), 1e-9))
        keep = false_refusals <= MAX_VETO_FALSE_REFUSALS and caught > 0
        report[veto] = {"false_refusals": round(false_refusals, 4), "unanswerable_refused": round(caught, 4),
                        "kept": keep}
        if keep:
            kept.append(veto)
    return kept, report


def auc(scores: np.ndarray, y: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, scores)), 3) if len(set(y.tolist())) == 2 else None


def leave_one_set_out_auc(x: np.ndarray, y: np.ndarray, weights: np.ndarray, sets: list[str]) -> dict:
    """Each set's AUC from a model fitted on the other sets (sets with one class left out)."""
    held_out = {}
    for name in sorted(set(sets)):
        keep = np.array([s != name for s in sets])
        if len(set(y[~keep].tolist())) < 2:
            continue
        other, m, sc = fit(x[keep], y[keep], weights[keep])
        held_out[name] = auc(other.predict_proba((x[~keep] - m) / sc)[:, 1], y[~keep])
    return held_out


def fit_kind(out: Path, kind: str) -> tuple[Answerability, dict]:
    run_name, features = KINDS[kind]
    rows = read_rows(out, run_name)
    x, y, weights, sets = matrix(rows, features)
    model, mean, scale = fit(x, y, weights)
    p = model.predict_proba((x - mean) / scale)[:, 1]
    vetoes, veto_report = choose_vetoes(x, y, weights, features)
    vetoed = np.zeros(len(y), dtype=bool)
    for v in vetoes:
        vetoed |= x[:, features.index(v)] >= 0.5
    threshold = choose_threshold(np.where(vetoed, 1.0, p), y, weights)  # the threshold's budget excludes vetoes
    decision = Answerability(features, tuple(round(float(w), 5) for w in model.coef_[0]),
                             round(float(model.intercept_[0]), 5), tuple(round(float(m), 5) for m in mean),
                             tuple(round(float(s), 5) for s in scale), threshold, tuple(vetoes))
    p = np.where(vetoed, 0.0, p)
    held_out = leave_one_set_out_auc(x, y, weights, sets)
    report = {
        "fusion": sorted(fusions_of(out, run_name)),  # the retrieval the signals were collected with
        "questions": {name: {"answerable": int(sum(y[i] for i, s in enumerate(sets) if s == name)),
                             "unanswerable": int(sum(1 - y[i] for i, s in enumerate(sets) if s == name))}
                      for name in sorted(set(sets))},
        "auc_in_sample": auc(p, y),
        "auc_leave_one_set_out": held_out,
        "auc_single_signal": {f: auc(x[:, j], y) for j, f in enumerate(features)},
        "vetoes": veto_report,
        "calibration_false_refusals": round(float(((p < threshold) & (y == 1)).sum() / max(1, (y == 1).sum())), 4),
        "calibration_unanswerable_refused": round(float(((p < threshold) & (y == 0)).sum() / max(1, (y == 0).sum())), 4),
    }
    return decision, report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate.fit_answerability", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder that `python -m eval.calibrate.crossdomain build` wrote")
    parser.add_argument("--write", type=Path, default=ANSWERABILITY_FILE)
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(KINDS),
                        help="refit these calibrations only; the others stored in --write are kept as they are")
    args = parser.parse_args(argv)
    from rag.errors import UserError

    calibrations, provenance = {}, {}
    for kind in args.kinds:
        try:
            decision, report = fit_kind(args.out, kind)
        except (UserError, OSError) as exc:
            print(f"python -m eval.calibrate.fit_answerability: error: {exc}", file=sys.stderr)
            return 2
        calibrations[kind] = decision.to_json()
        provenance[kind] = report
        print(f"{kind}: threshold {decision.threshold}, {json.dumps(report)}", file=sys.stderr)
    if args.write.is_file():  # the collection model (eval.calibrate.fit_collection) is fitted apart: kept
        kept = json.loads(args.write.read_text(encoding="utf-8"))
        kept_kinds = [k for k in kept["calibrations"] if k.startswith("collection:") or k not in args.kinds]
        calibrations.update({k: kept["calibrations"][k] for k in kept_kinds})
        provenance.update({k: kept["provenance"][k] for k in kept_kinds if k in kept["provenance"]})
    data = {"calibrations": calibrations,
            "provenance": {"fitted": datetime.date.today().isoformat(),
                           "by": "python -m eval.calibrate.fit_answerability (cross-domain calibration parts only)",
                           "label": "the question is answerable", "max_false_refusals": MAX_FALSE_REFUSALS,
                           **provenance}}
    args.write.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
