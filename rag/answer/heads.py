"""Heads trained on the reader's own hidden states (`python -m eval.calibrate.train_heads`).

What the 0.5B *says* about answerability separates SQuAD 2.0's adversarial unanswerables at
chance; what it *computes* carries more: whether the passages answer the question is linearly
readable from a middle layer's state at the last prompt token (Slobodkin et al., EMNLP 2023;
Lavi, Milo and Geva, 2025, arXiv 2509.22449). The answerability head is a logistic regression on
that one vector, read from the answer's own prefill, so it costs a dot product.

A head is trained for one model's states and is keyed by them (the source GGUF's SHA-256 and
the precision): it is found by that key, and a file for another key is refused at load.

P_head = sigmoid(b + w . (h - mean) / scale), h the state at `layer` (0 = embeddings). It joins
the fitted decision as a veto: a question the fitted signals would answer is refused when
P_head < `veto_below`, a threshold chosen on out-of-fold calibration scores to refuse at most 3%
of answerable questions (`eval.calibrate.train_heads`; its report shows why a veto and not a refit).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import UserError

HEADS_DIR = Path(__file__).with_name("heads")


@dataclass(frozen=True)
class AnswerabilityHead:
    states_key: str
    layer: int
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    intercept: float
    veto_below: float  # refuse when P_head is below this, whatever the fitted signals say

    def logit(self, states: dict) -> float:
        h = np.asarray(states[self.layer], dtype=np.float64)
        return self.intercept + float(((h - self.mean) / self.scale) @ self.weights)

    def probability(self, states: dict) -> float:
        """The head alone: P(the passages answer) from the state."""
        z = self.logit(states)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def to_json(self, provenance: dict | None = None) -> dict:
        return {"states_key": self.states_key, "layer": self.layer, "intercept": self.intercept,
                "weights": [round(float(v), 6) for v in self.weights],
                "mean": [round(float(v), 6) for v in self.mean], "scale": [round(float(v), 6) for v in self.scale],
                "veto_below": self.veto_below, "provenance": provenance or {}}

    @classmethod
    def from_json(cls, data: dict) -> "AnswerabilityHead":
        arrays = {k: np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "weights")}
        if len({a.shape for a in arrays.values()}) != 1 or arrays["weights"].ndim != 1 or not np.all(arrays["scale"] > 0):
            raise ValueError("weights, mean and scale must be vectors of one length (scale > 0)")
        veto_below = float(data["veto_below"])
        if not 0.0 <= veto_below < 1.0:
            raise ValueError("veto_below must be a probability")
        return cls(str(data["states_key"]), int(data["layer"]), **arrays, intercept=float(data["intercept"]),
                   veto_below=veto_below)


def head_path(states_key: str) -> Path:
    """Where the answerability head for these states lives: one file per model and precision."""
    sha, _, precision = states_key.partition(":")
    return HEADS_DIR / f"answerability-{sha[:16]}-{precision or 'any'}.json"


def load_answerability_head(states_key: str | None, path: Path | None = None) -> AnswerabilityHead | None:
    """The head trained for these states; None when there is none (the fitted signals decide then).

    A file whose key is not `states_key` is refused: a head read on another model's states would
    decide at random while looking calibrated."""
    if states_key is None:
        return None
    path = path or head_path(states_key)
    if not path.is_file():
        return None
    try:
        head = AnswerabilityHead.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"the answerability head {path} is damaged ({exc.__class__.__name__}: {str(exc)[:80]}); "
                        f"reinstall, or retrain it with python -m eval.calibrate.train_heads") from None
    if head.states_key != states_key:
        raise UserError(f"the answerability head {path.name} was trained for another model's states "
                        f"({head.states_key[:16]}…, not {states_key[:16]}…); it is not used for this one")
    return head


def confidence_words(probability: float, threshold: float) -> str:
    """The head's probability as a reader would say it.

    >>> [confidence_words(p, 0.4) for p in (0.9, 0.5, 0.2)]
    ['likely in the documents', 'possibly in the documents', 'not found in the documents']
    """
    if probability < threshold:
        return "not found in the documents"
    return "likely in the documents" if probability >= (1 + threshold) / 2 else "possibly in the documents"
