"""Whether the passages answer the question: a logistic model over signals a reader would use,
fitted on labelled calibration questions from several domains (`python -m eval.fit_answerability`).

The signals (computed by the pipeline for every question: `AnswerPipeline._read`, `retrieval_signals`
and `draft_signals`):

    cosine         best question-passage cosine (dense retrieval)
    coverage       best share of the question's topic terms found in one passage (+ its headings)
    unknown        share of the question's topic terms that no document contains
    quote_score    score of the best sentence (0.6 cosine + 0.4 coverage, `sentences.py`)
    model_refused  1 when the model's draft says the passages do not answer
    support        how well the passages support the draft (`grounding.py`)
    short_ok       1 when the draft's phrase is stated by the quoted sentence
    type_missing   1 when the question asks for a year/date/quantity and the answer has none
    draft_logprob  mean log-probability of the draft's tokens (the model's confidence)
    gain           mean log-probability gain of the draft given the passages over none
    head           the answerability head's P, read from the model's hidden states (`heads.py`): a veto
                   of its own there, not one of the fitted features

P(answerable) = sigmoid(b + sum_i w_i * (x_i - mean_i) / scale_i); the question is answered when
P >= threshold, unless a veto holds: a 0/1 signal that refuses on its own (e.g. the question asks for
a year and the evidence has none). A veto is kept by the fit only when it costs (almost) no false
refusal on the calibration parts. One calibration per generator kind (a language model, or the extractive answerer
without the model's signals), one file for every domain: no per-document tuning. A bundled model whose
signals differ from the default's (the 1.5B is more confident) has a calibration of its own, fitted on the
same calibration parts ("model:<its file name>"); any other model uses the default model's.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from rag.errors import UserError

ANSWERABILITY_FILE = Path(__file__).with_name("answerability.json")
MODEL_SIGNALS = ("model_refused", "draft_logprob", "gain")
SIGNALS = ("cosine", "coverage", "unknown", "quote_score", "model_refused", "support", "short_ok", "type_missing",
           "draft_logprob", "gain", "head")


@dataclass(frozen=True)
class Answerability:
    features: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    vetoes: tuple[str, ...] = ()

    def vetoed(self, signals: dict) -> str | None:
        """The first veto signal that is set, if any."""
        return next((v for v in self.vetoes if float(signals.get(v, 0.0)) >= 0.5), None)

    def probability(self, signals: dict) -> float:
        z = self.intercept + sum(w * (float(signals.get(f, 0.0)) - m) / s
                                 for f, w, m, s in zip(self.features, self.weights, self.mean, self.scale))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def to_json(self) -> dict:
        return {"features": list(self.features), "weights": list(self.weights), "intercept": self.intercept,
                "mean": list(self.mean), "scale": list(self.scale), "threshold": self.threshold,
                "vetoes": list(self.vetoes)}

    @classmethod
    def from_json(cls, data: dict) -> "Answerability":
        features = tuple(data["features"])
        vetoes = tuple(data.get("vetoes", ()))
        unknown = (set(features) | set(vetoes)) - set(SIGNALS)
        if unknown:
            raise ValueError(f"unknown signals {sorted(unknown)}")
        fields = {k: tuple(float(v) for v in data[k]) for k in ("weights", "mean", "scale")}
        if any(len(v) != len(features) for v in fields.values()) or 0.0 in fields["scale"]:
            raise ValueError("weights, mean and scale must match the features (scale never 0)")
        return cls(features, **fields, intercept=float(data["intercept"]), threshold=float(data["threshold"]),
                   vetoes=vetoes)


def kind_of(model: str, writes_text: bool = True) -> str:
    """The calibration key for a generator: "extractive", "model:<bundled file name>", or "model".

    >>> kind_of("qwen2.5-coder-1.5b"), kind_of("extractive", writes_text=False)
    ('model:qwen2.5-coder-1.5b-instruct-q4_k_m', 'extractive')
    >>> kind_of("qwen2.5-coder-0.5b-instruct"), kind_of("some-org/any-hub-model")
    ('model', 'model')
    """
    from rag.generate.model_files import BUNDLED, DEFAULT_MODEL

    if not writes_text:
        return "extractive"
    bundled = BUNDLED.get(model)
    return "model" if bundled is None or bundled is BUNDLED[DEFAULT_MODEL] else f"model:{bundled.name}"


def load(kind: str, path: Path = ANSWERABILITY_FILE) -> Answerability:
    """The calibration for a generator kind (see `kind_of`); a clear error when unusable.

    A "model:<name>" kind without a calibration of its own falls back to "model"."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        calibrations = data["calibrations"]
        if kind.startswith("model:") and kind not in calibrations:
            kind = "model"
        return Answerability.from_json(calibrations[kind])
    except FileNotFoundError:
        raise UserError(f"the answerability calibration {path} is missing; reinstall, or refit it with "
                        f"python -m eval.fit_answerability") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"the answerability calibration {path} is damaged ({exc.__class__.__name__}: "
                        f"{str(exc)[:80]}); reinstall, or refit it with python -m eval.fit_answerability") from None
