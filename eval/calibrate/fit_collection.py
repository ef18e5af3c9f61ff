"""Fit the collection model (rule 4b of `rag.answer.decision`) on FinanceBench's calibration companies.

    python -m eval.experiments.financebench PDF_DIR OUT --part calibration --collect --name collect
    python -m eval.calibrate.crossdomain run CD --part calibration --sets agency --config eval/configs/collect.toml
    python -m eval.calibrate.fit_collection OUT --crossdomain CD   # adds "collection:model" to rag/answer/answerability.json

Why a model of its own: in a collection of look-alike reports every question is answerable, and
what goes wrong is a wrong number shown with confidence (FinanceBench's test part: 56% incorrect).
The cross-domain fit's label (is the question answerable?) cannot see that; here the label is
whether the shown answer was right, graded by `eval.experiments.finance_grading` (hand grades
where the rules cannot decide; rows still ungraded are left out). The rule applies to any
collection of reports with cards, so a second domain is fitted with it: the agency reports'
calibration part of the cross-domain protocol (`--crossdomain OUT`, its `collect` run), where the
label is "answerable and answered right". Each set weighs the same, and the classes are
balanced. Only answers the rule can change are read: drafted by the model, shown in collect
mode, for a question that names its document (`card_match` measured). Nothing of a test part is
read: the run folders must be calibration ones.

The threshold: the one that maximises right − COST_OF_WRONG × wrong among the answers it keeps,
on out-of-fold probabilities (folds by company, or by report), the rule the cell threshold uses
(a wrong number costs two right ones). What each signal adds is reported as its AUC alone and
the model's leave-one-group-out AUC, stored with the fit.
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
    return [{"set": "financebench", "group": r["company"], "right": r["grade"] == "correct", "signals": r["signals"]}
            for r in rows if r["grade"] in ("correct", "incorrect") and "card_match" in r.get("signals", {})
            and not r["signals"].get("cell")]


def crossdomain_rows(out: Path, sets: tuple[str, ...]) -> list[dict]:
    """The cross-domain calibration parts' collect answers about a named report (agency reports)."""
    from eval.calibrate.parts import part_folders
    from rag.errors import UserError

    rows = []
    for folder in part_folders(out, "calibration"):
        name = folder.name.rsplit("-", 1)[0]
        if name not in sets:
            continue
        results = folder / "collect" / "results.jsonl"
        if not results.is_file():
            raise UserError(f"no {results}; run the calibration part with --config eval/configs/collect.toml first")
        for line in results.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if not row["refused"] and "card_match" in (row.get("signals") or {}) and not row["signals"].get("cell"):
                rows.append({"set": name, "group": row["id"].rsplit("-", 1)[0], "signals": row["signals"],
                             "right": bool(row["metrics"]["answerable"] and row["metrics"].get("correct"))})
    return rows


def matrix(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Signals, labels, weights (each set weighs the same) and groups (set:company or set:report)."""
    x = np.array([[float(r["signals"].get(f, 0.0)) for f in FEATURES] for r in rows])
    y = np.array([int(r["right"]) for r in rows])
    sets = [r["set"] for r in rows]
    weights = np.array([len(rows) / (len(set(sets)) * sets.count(s)) for s in sets])
    return x, y, weights, [f"{r['set']}:{r['group']}" for r in rows]


def fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray):
    """The answerability fit's model, strongly regularised: a few dozen answers per set, few right."""
    from eval.calibrate import fit_answerability

    return fit_answerability.fit(x, y, weights, C=0.3)


def out_of_fold(x: np.ndarray, y: np.ndarray, weights: np.ndarray, groups: list[str]) -> np.ndarray:
    """Each answer's P(right) from a model fitted without its group (company or report)."""
    p = np.full(len(y), 0.5)
    for group in sorted(set(groups)):
        held = np.array([g == group for g in groups])
        if len(set(y[~held].tolist())) < 2:
            continue
        model, mean, scale = fit(x[~held], y[~held], weights[~held])
        p[held] = model.predict_proba((x[held] - mean) / scale)[:, 1]
    return p


def choose_threshold(p: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None,
                     cost_of_wrong: float = COST_OF_WRONG) -> float:
    """The lowest P that maximises right − cost_of_wrong × wrong (weighted) among answers kept
    (P ≥ it); above every P (refuse all) when no threshold gains.

    >>> choose_threshold(np.array([0.9, 0.8, 0.4, 0.3]), np.array([1, 1, 0, 1]))
    0.8
    >>> choose_threshold(np.array([0.9, 0.2]), np.array([0, 1]))
    1.0
    """
    weights = np.ones(len(y)) if weights is None else weights
    best, best_gain = 1.0, 0.0
    for t in sorted(set(np.round(p, 4).tolist()), reverse=True):
        kept = p >= t
        gain = float((weights * y)[kept].sum() - cost_of_wrong * (weights * (1 - y))[kept].sum())
        if gain > best_gain:
            best, best_gain = t, gain
    return round(float(best), 4)


def report(x: np.ndarray, y: np.ndarray, rows: list[dict], oof: np.ndarray, threshold: float) -> dict:
    from eval.calibrate.fit_answerability import auc

    by_set = {}
    for name in sorted({r["set"] for r in rows}):
        mine = np.array([r["set"] == name for r in rows])
        kept = mine & (oof >= threshold)
        by_set[name] = {"answers": int(mine.sum()), "right": int(y[mine].sum()),
                        "groups": len({r["group"] for r in rows if r["set"] == name}),
                        "auc_single_signal": {f: auc(x[mine, j], y[mine]) for j, f in enumerate(FEATURES)},
                        "auc_leave_one_group_out": auc(oof[mine], y[mine]),
                        "out_of_fold_at_threshold": {"kept_right": int(y[kept].sum()),
                                                     "kept_wrong": int((1 - y[kept]).sum()),
                                                     "refused_right": int(y[mine & ~kept].sum()),
                                                     "refused_wrong": int((1 - y[mine & ~kept]).sum())}}
    return {"auc_leave_one_group_out": auc(oof, y), "sets": by_set}


def fit_collection(folder: Path, crossdomain: Path | None = None, sets: tuple[str, ...] = ("agency",)) -> tuple[Answerability, dict]:
    from rag.errors import UserError

    rows = read_rows(folder) + (crossdomain_rows(crossdomain, sets) if crossdomain else [])
    x, y, weights, groups = matrix(rows)
    if len(set(y.tolist())) < 2:
        raise UserError(f"{folder}: {len(y)} graded answers of one kind only; nothing to fit")
    oof = out_of_fold(x, y, weights, groups)
    threshold = choose_threshold(oof, y, weights)
    model, mean, scale = fit(x, y, weights)
    fitted = Answerability(FEATURES, tuple(round(float(w), 5) for w in model.coef_[0]), round(float(model.intercept_[0]), 5),
                           tuple(round(float(m), 5) for m in mean), tuple(round(float(s), 5) for s in scale), threshold)
    return fitted, report(x, y, rows, oof, threshold)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate.fit_collection", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the OUT folder of `python -m eval.experiments.financebench`")
    parser.add_argument("--run", default=RUN, help=f"the calibration run's folder in OUT (default {RUN})")
    parser.add_argument("--crossdomain", type=Path, default=None,
                        help="a cross-domain protocol folder whose agency calibration part was run with collect.toml")
    parser.add_argument("--write", type=Path, default=ANSWERABILITY_FILE)
    args = parser.parse_args(argv)
    from rag.errors import UserError

    try:
        fitted, found = fit_collection(args.out / args.run, args.crossdomain)
        data = json.loads(args.write.read_text(encoding="utf-8"))
    except (UserError, OSError, ValueError) as exc:
        print(f"python -m eval.calibrate.fit_collection: error: {exc}", file=sys.stderr)
        return 2
    data["calibrations"][KIND] = fitted.to_json()
    data["provenance"][KIND] = {"fitted": datetime.date.today().isoformat(),
                                "by": "python -m eval.calibrate.fit_collection (calibration parts only: FinanceBench's "
                                      "calibration companies" + (", the agency reports'" if args.crossdomain else "") + ")",
                                "label": "the shown answer was right (answerable and right)", "cost_of_wrong": COST_OF_WRONG, **found}
    args.write.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"{KIND}: threshold {fitted.threshold}, {json.dumps(found)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
