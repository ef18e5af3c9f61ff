"""Fit the collection model (rule 4b of `rag.answer.decision`) on FinanceBench's calibration companies.

    python -m eval.experiments.financebench PDF_DIR OUT --part calibration --collect --name collect
    python -m eval.calibrate.fit_collection OUT     # adds "collection:model" to rag/answer/answerability.json

Why a model of its own: in a collection of look-alike reports every question is answerable, and
what goes wrong is a wrong number shown with confidence (FinanceBench's test part: 56% incorrect).
The cross-domain fit's label (is the question answerable?) cannot see that; here the label is
whether the shown answer was right, graded by `eval.experiments.finance_grading` (hand grades
where the rules cannot decide; rows still ungraded are left out). Only answers the rule can
change are read: drafted by the model, shown in collect mode, for a question that names its
document (`card_match` measured). Nothing of the test companies is read: the run folder must be
a calibration one.

The threshold: the one that maximises correct − COST_OF_WRONG × incorrect among the answers it
keeps, on out-of-fold probabilities (folds by company), the rule the cell threshold uses (a wrong
number costs two right ones). What each signal adds is reported as its AUC alone and the model's
leave-one-company-out AUC, stored with the fit.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

from rag.answer.decision import ANSWERABILITY_FILE, Answerability

FEATURES = ("card_match", "cell_match", "support", "gain", "cosine", "coverage")
COST_OF_WRONG = 2.0
RUN = "calibration-transformers-collect"
KIND = "collection:model"  # the default model's; another bundled model falls back to it (decision.load_collection)


def read_rows(folder: Path) -> list[dict]:
    """The graded answers the rule can change: drafted, shown, about a named document."""
    from rag.errors import UserError

    if not folder.name.startswith("calibration-"):
        raise UserError(f"{folder}: not a calibration run; the collection model is never fitted on the test part")
    results = folder / "results.jsonl"
    if not results.is_file():
        raise UserError(f"no {results}; run the calibration part with --collect first")
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
    hand_file = folder / "hand_grades.json"  # {"financebench_id": "correct" | "incorrect"}, for answers graded "hand"
    hand = json.loads(hand_file.read_text()) if hand_file.is_file() else {}
    rows = [{**r, "grade": hand.get(r["id"], "ungraded")} if r["grade"] == "hand" else r for r in rows]
    return [r for r in rows if r["grade"] in ("correct", "incorrect") and "card_match" in r.get("signals", {})
            and not r["signals"].get("cell")]


def matrix(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    x = np.array([[float(r["signals"].get(f, 0.0)) for f in FEATURES] for r in rows])
    y = np.array([int(r["grade"] == "correct") for r in rows])
    return x, y, [r["company"] for r in rows]


def fit(x: np.ndarray, y: np.ndarray):
    """A strongly regularised, class-balanced logistic model: a few dozen answers, few right."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0  # a constant signal (rounded to 0 when stored)
    model = LogisticRegression(C=0.3, class_weight="balanced", max_iter=1000).fit((x - mean) / scale, y)
    return model, mean, scale


def out_of_fold(x: np.ndarray, y: np.ndarray, companies: list[str]) -> np.ndarray:
    """Each answer's P(right) from a model fitted without its company."""
    p = np.full(len(y), 0.5)
    for company in sorted(set(companies)):
        held = np.array([c == company for c in companies])
        if len(set(y[~held].tolist())) < 2:
            continue
        model, mean, scale = fit(x[~held], y[~held])
        p[held] = model.predict_proba((x[held] - mean) / scale)[:, 1]
    return p


def choose_threshold(p: np.ndarray, y: np.ndarray, cost_of_wrong: float = COST_OF_WRONG) -> float:
    """The lowest P that maximises correct − cost_of_wrong × incorrect among answers kept (P ≥ it);
    above every P (refuse all) when no threshold gains.

    >>> choose_threshold(np.array([0.9, 0.8, 0.4, 0.3]), np.array([1, 1, 0, 1]))
    0.8
    >>> choose_threshold(np.array([0.9, 0.2]), np.array([0, 1]))
    1.0
    """
    best, best_gain = 1.0, 0.0
    for t in sorted(set(np.round(p, 4).tolist()), reverse=True):
        kept = p >= t
        gain = float(y[kept].sum() - cost_of_wrong * (1 - y[kept]).sum())
        if gain > best_gain:
            best, best_gain = t, gain
    return round(float(best), 4)


def report(x: np.ndarray, y: np.ndarray, companies: list[str], oof: np.ndarray, threshold: float) -> dict:
    from eval.calibrate.fit_answerability import auc

    kept = oof >= threshold
    return {"answers": len(y), "right": int(y.sum()), "companies": len(set(companies)),
            "auc_single_signal": {f: auc(x[:, j], y) for j, f in enumerate(FEATURES)},
            "auc_leave_one_company_out": auc(oof, y),
            "out_of_fold_at_threshold": {"kept_right": int(y[kept].sum()), "kept_wrong": int((1 - y[kept]).sum()),
                                         "refused_right": int(y[~kept].sum()), "refused_wrong": int((1 - y[~kept]).sum())}}


def fit_collection(folder: Path) -> tuple[Answerability, dict]:
    from rag.errors import UserError

    rows = read_rows(folder)
    x, y, companies = matrix(rows)
    if len(set(y.tolist())) < 2:
        raise UserError(f"{folder}: {len(y)} graded answers of one kind only; nothing to fit")
    oof = out_of_fold(x, y, companies)
    threshold = choose_threshold(oof, y)
    model, mean, scale = fit(x, y)
    fitted = Answerability(FEATURES, tuple(round(float(w), 5) for w in model.coef_[0]), round(float(model.intercept_[0]), 5),
                           tuple(round(float(m), 5) for m in mean), tuple(round(float(s), 5) for s in scale), threshold)
    return fitted, report(x, y, companies, oof, threshold)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate.fit_collection", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the OUT folder of `python -m eval.experiments.financebench`")
    parser.add_argument("--run", default=RUN, help=f"the calibration run's folder in OUT (default {RUN})")
    parser.add_argument("--write", type=Path, default=ANSWERABILITY_FILE)
    args = parser.parse_args(argv)
    from rag.errors import UserError

    try:
        fitted, found = fit_collection(args.out / args.run)
        data = json.loads(args.write.read_text(encoding="utf-8"))
    except (UserError, OSError, ValueError) as exc:
        print(f"python -m eval.calibrate.fit_collection: error: {exc}", file=sys.stderr)
        return 2
    data["calibrations"][KIND] = fitted.to_json()
    data["provenance"][KIND] = {"fitted": datetime.date.today().isoformat(),
                                "by": "python -m eval.calibrate.fit_collection (FinanceBench calibration companies only)",
                                "label": "the shown answer was right", "cost_of_wrong": COST_OF_WRONG, **found}
    args.write.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"{KIND}: threshold {fitted.threshold}, {json.dumps(found)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
