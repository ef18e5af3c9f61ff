"""The one place that decides whether a drafted answer is shown or refused, and why.

The pipeline measures; this module decides. `Signals` names every measurement the decision may
read (typed fields, not a string-keyed dict that four modules spell out again); `Decision` holds
what was fitted on calibration questions (the logistic model and its vetoes, `Answerability`
below, stored in `answerability.json`; the optional hidden-state head, `heads.py`), loaded by
`rag.assemble` and passed in; `decide` turns one question's signals into a `Verdict`. Changing
the refusal rule means editing this file.

The rule, in order (the first that holds gives the reason):

0. the question names a period the documents do not hold (`index.scope`): nothing was searched,
   and the answer is one line naming the nearest periods they do hold;
C. an answer read from table cells (`route` "cell" or "trend", no model): its rows must match
   the question at least `cell_threshold` (the weakest row, for a value across periods); when
   refused, the question goes on to the text route, the row's score recorded as `cell_match`;
   in a filing with statement facts, the cell's value must also be what the statements give for
   the question's line item and the filing's period (`answer.confirm`): a second route. When
   the two disagree, or only the cell answers, the number is refused with both readings named,
   and no other route guesses it;
1. nothing to answer from: no passage was shown to the model (all set aside, or none found);
   A standard metric computed from a filing's statement facts, or a line item read from them
   (`route` "metric", each input one value for the filing's period, its printed row cited) is
   shown, unless the cell reader reads the row otherwise (`agreement` "disagree");
2. the model wrote nothing;
2b. a value question about a filing's standard line item whose answer states no number that the
   cited filing's statement facts give for it (`answer.confirm`);
3. a veto signal is set (e.g. the question asks for a year and the evidence states none);
4. P(answerable) of the fitted model is below its threshold;
4b. in a collection of look-alike reports, for a question that names its document (`card_match`
   measured), P(right) of the collection model is below its threshold: fitted on FinanceBench's
   calibration companies, where the label is whether the shown answer was right
   (`python -m eval.calibrate.fit_collection`, stored beside the others as "collection:<kind>");
4c. a drafted answer in words cites a financial filing of a collection (`filing`): not shown,
   since on FinanceBench's calibration part such answers were mostly wrong (`FILING_TEXT_ANSWERS`);
5. the head's P is below its veto line (after the fit: the reason names the head only where it
   alone refuses);
6. a cited passage comes from a document the question rules out (another organisation, a period
   before the one asked: `index.scope.contradicts`), whatever the scores say;
7. no sentence of the answer is supported by the passages.
D. an answer that passes is shown as the documents' disagreement when another document states
   the question's value otherwise (`answer.disagree`: a year, a date, an amount): each value
   with its passage and document, none chosen.

Rules 3–6 (4b too) hold only when the decision is `enabled` (off while collecting signals to fit it).

The fitted model: P(answerable) = sigmoid(b + sum_i w_i * (x_i - mean_i) / scale_i) over some of
the `Signals`, fitted on labelled calibration questions from several domains
(`python -m eval.calibrate.fit_answerability`, stored in `answerability.json`). A veto is a 0/1
signal that refuses on its own; the fit keeps one only when it costs (almost) no false refusal on
the calibration parts. One calibration per generator kind (a language model, or the extractive
answerer without the model's signals), one file for every domain: no per-document tuning. A
bundled model whose signals differ from the default's (the 1.5B is more confident) has one of its
own ("model:<its file name>"); any other model uses the default model's. Which kind a generator
is, `rag.assemble` says (it knows the bundled models); this module never looks.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from rag.answer.heads import AnswerabilityHead, confidence_words
from rag.errors import UserError

REFUSAL_ANSWER = "The documents do not cover this question."
# A table row must score this much (cells.best_rows) for its cell to be the answer (rule C).
# Fitted on the FinanceBench calibration part (16 companies, 57 questions;
# eval.experiments.finance_run.fit_cell_threshold, a wrong number costing two right ones): of its
# 6 cell answers, the one at 0.717 and above was right, below it 1 of 5. Never fitted on the test
# part. See eval/results/financebench.md.
CELL_THRESHOLD = 0.717
MISSING_PERIOD = "the filing asked for is not in the documents"
VETO_REASONS = {"type_missing": "the question asks for a year, a date or a quantity and the passages' answer gives none",
                "model_refused": "the model found no answer in the passages"}

# What the reader is told for each of the rule's refusal reasons (matched by their start); the
# reason itself, with its numbers, stays in --json and under "Details" in the sources.
# Rule 4c. A drafted answer in words (the text route) from a financial filing of a collection
# (10-K, 10-Q, 8-K, 20-F, earnings release) is not shown: on FinanceBench's calibration part
# (its own companies; `python -m eval.experiments.financebench --part calibration`)
# such answers were right 2 times and wrong 15 times (graded strictly by hand where they explain),
# where a wrong answer costs two right ones, and no measured signal separated them (on the test
# part, looked at after: 3 right, 22 wrong). Numbers from the statements' facts, cells the facts
# confirm and metrics in code are the routes that answer there (rules C and 1).
FILING_TEXT_ANSWERS = False
FILING_TEXT_REASON = "answers in words from financial filings are not shown: too few were right when checked"

REFUSAL_WORDS = (
    ("no passages retrieved", "nothing in them matched the question"),
    ("the passages found address the assistant", "the only passages found read as instructions to the "
                                                 "assistant, so they were set aside"),
    ("the model gave no answer", "the model read the closest passages and wrote no answer"),
    ("the model found no answer", "the model read the closest passages and found no answer in them"),
    ("the question asks for a year", "the question asks for a year, a date or a number, and the closest "
                                     "passages give none"),
    ("the passages do not appear to answer it", "the passages closest to the question do not appear to state "
                                                "its answer"),
    ("the model's hidden states", "the model judged that the closest passages do not hold the answer"),
    ("no sentence of the answer is supported", "the model's answer is not stated in the passages, so it is "
                                               "not shown"),
    ("answers from this collection", "for questions about one of these look-alike reports, answers like this "
                                     "one were more often wrong than right when checked"),
    (MISSING_PERIOD, "the documents hold no report of the organisation or period the question names"),
    (FILING_TEXT_REASON, "in financial filings only numbers read from the statements are answered; an answer in "
                         "words was too often wrong, so the closest passages are listed as sources instead"),
    ("the table row found", "the closest table row does not match the question well enough to read its number"),
    ("the cited passage is from another document", "the passage that would answer it is from a document other "
                                                   "than the one the question names"),
)


def refusal_in_words(reason: str) -> str:
    """Why nothing was answered, as a reader understands it (no probabilities, no thresholds).

    >>> refusal_in_words("the passages do not appear to answer it (P(answerable) 0.20 < 0.32)")
    'the passages closest to the question do not appear to state its answer'
    """
    return next((words for start, words in REFUSAL_WORDS if reason.startswith(start)),
                "none of the passages found appears to answer it")


_FACT = {"kind": "fact"}  # a field the rule reads that is not a measured signal (not recorded with the answer)


def _signal(kind: str, binary: bool = False):
    """A measured signal: `kind` says who can give it (retrieval: before any draft; draft: from
    any draft; model: only a language model's; head, cell: their own components); a `binary`
    one is 0/1 and may be fitted as a veto."""
    return field(default=None, metadata={"kind": kind, "binary": binary})


@dataclass(frozen=True)
class Signals:
    """What the decision reads of one answered question (None: not measured for it).

    The measured signals in the order a fit takes them as features, then the facts of the draft
    that the rule's first steps read.
    """

    cosine: float | None = _signal("retrieval")  # best question-passage cosine (dense retrieval)
    coverage: float | None = _signal("retrieval")  # best share of the question's topic terms in one passage (+ headings)
    unknown: float | None = _signal("retrieval")  # share of the question's topic terms no document contains
    quote_score: float | None = _signal("retrieval")  # the best sentence's score (sentences.py)
    model_refused: float | None = _signal("model", binary=True)  # 1 when the draft says the passages do not answer
    support: float | None = _signal("draft")  # how well the passages support the draft (grounding.py)
    short_ok: float | None = _signal("model")  # 1 when the draft's phrase is stated by the quoted sentence
    type_missing: float | None = _signal("draft", binary=True)  # a year/date/quantity asked, none in the answer
    draft_logprob: float | None = _signal("model")  # mean log-probability of the draft's tokens
    gain: float | None = _signal("model")  # mean log-probability gain of the draft given the passages over none
    head: float | None = _signal("head")  # the hidden-state head's P (heads.py): a veto of its own
    cell: float | None = _signal("cell")  # a table row's match score, for an answer read from a cell (collection.py)
    # a collection's structure (document cards, tables); None when the question names no document / asks no value
    card_match: float | None = _signal("collection")  # share of what the question names of its document that the cited one's card states
    cell_match: float | None = _signal("collection")  # the best table cell's match for a value question (too low to answer from)
    reader_margin: float | None = _signal("reader")  # the span reader's best span score over its null score (reader.py)
    shown: int = field(default=0, metadata=_FACT)  # passages shown to the model
    set_aside: int = field(default=0, metadata=_FACT)  # passages set aside as addressing the assistant
    drafted: bool = field(default=False, metadata=_FACT)  # the model wrote a draft
    sentences: int = field(default=0, metadata=_FACT)  # sentences the answer would show
    elsewhere: str = field(default="", metadata=_FACT)  # why a cited document is not the one the question names
    filing: bool = field(default=False, metadata=_FACT)  # the cited document is a financial filing of a collection (rule 4c)
    missing_period: str = field(default="", metadata=_FACT)  # the period the question names, held by no document
    route: str = field(default="", metadata=_FACT)  # "cell" or "trend": an answer read from tables; "": the text route
    agreement: str = field(default="", metadata=_FACT)  # the statement facts' word on the cell's value (answer.confirm)
    unconfirmed: str = field(default="", metadata=_FACT)  # why the value is not shown, when they do not agree
    candidates: tuple = field(default=(), metadata=_FACT)  # (route, reading) pairs of the number: ("cell", "$1,577 million (2018)")
    disagree: tuple = field(default=(), metadata=_FACT)  # each document's value when they state different ones (answer.disagree)

    @classmethod
    def names(cls, *kinds: str, binary: bool | None = None) -> tuple[str, ...]:
        """The measured signals' names, in order, of the given kinds (all when none is named),
        only 0/1 ones with `binary` True: what a fit may take as features or vetoes."""
        return tuple(f.name for f in fields(cls) if f.metadata["kind"] != "fact"
                     and (not kinds or f.metadata["kind"] in kinds)
                     and (binary is None or f.metadata["binary"] == binary))

    def value(self, name: str) -> float:
        """A signal as a number for the fitted model: 0 when it was not measured."""
        found = getattr(self, name)
        return 0.0 if found is None else float(found)

    def recorded(self) -> dict:
        """The measured signals, rounded, as the answer records them (unmeasured ones left out)."""
        return {name: round(float(getattr(self, name)), 4) for name in self.names() if getattr(self, name) is not None}


ANSWERABILITY_FILE = Path(__file__).with_name("answerability.json")


@dataclass(frozen=True)
class Answerability:
    features: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    vetoes: tuple[str, ...] = ()

    def vetoed(self, signals: Signals) -> str | None:
        """The first veto signal that is set, if any."""
        return next((v for v in self.vetoes if signals.value(v) >= 0.5), None)

    def probability(self, signals: Signals) -> float:
        z = self.intercept + sum(w * (signals.value(f) - m) / s
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
        unknown = (set(features) | set(vetoes)) - set(Signals.names())
        if unknown:
            raise ValueError(f"unknown signals {sorted(unknown)}")
        fields = {k: tuple(float(v) for v in data[k]) for k in ("weights", "mean", "scale")}
        if any(len(v) != len(features) for v in fields.values()) or 0.0 in fields["scale"]:
            raise ValueError("weights, mean and scale must match the features (scale never 0)")
        return cls(features, **fields, intercept=float(data["intercept"]), threshold=float(data["threshold"]),
                   vetoes=vetoes)


def load_collection(kind: str, path: Path = ANSWERABILITY_FILE) -> Answerability | None:
    """The collection model for a generator kind (rule 4b), or None when none was fitted for it
    (a "model:<name>" kind falls back to "model"'s, as in `load`)."""
    try:
        calibrations = json.loads(path.read_text(encoding="utf-8"))["calibrations"]
        key = f"collection:{kind}"
        if kind.startswith("model:") and key not in calibrations:
            key = "collection:model"
        return Answerability.from_json(calibrations[key]) if key in calibrations else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"the answerability calibration {path} is damaged ({exc.__class__.__name__}: "
                        f"{str(exc)[:80]}); reinstall, or refit it with python -m eval.calibrate.fit_collection") from None


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
                        f"python -m eval.calibrate.fit_answerability") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"the answerability calibration {path} is damaged ({exc.__class__.__name__}: "
                        f"{str(exc)[:80]}); reinstall, or refit it with python -m eval.calibrate.fit_answerability") from None


@dataclass(frozen=True)
class Verdict:
    refused: bool
    reason: str  # why it was refused, in words ("" when answered)
    probability: float  # P(answerable) of the fitted model (0 when nothing was shown to the model)
    confidence: str = ""  # the head's probability in words, when there is a head
    disagree: bool = False  # shown as the documents' disagreement, each value cited, not as one value (rule D)


@dataclass(frozen=True)
class Decision:
    """The fitted model with its vetoes, the optional head, and whether to refuse at all."""

    fitted: Answerability
    head: AnswerabilityHead | None = None
    enabled: bool = True  # False: never refuse on the fitted signals (collecting them to fit)
    collection: Answerability | None = None  # P(right) for questions naming one of look-alike reports (rule 4b)
    cell_threshold: float = CELL_THRESHOLD  # a table row's score to answer from its cell (rule C)

    def decide(self, signals: Signals) -> Verdict:
        fitted = self.fitted
        probability = fitted.probability(signals) if signals.shown else 0.0
        head = signals.head if self.head is not None else None
        confidence = confidence_words(head, self.head.veto_below) if head is not None else ""
        reason = self._reason(signals, probability)
        return Verdict(bool(reason), reason, probability, confidence, disagree=not reason and bool(signals.disagree))

    def _reason(self, signals: Signals, probability: float) -> str:
        fitted = self.fitted
        if signals.missing_period:
            return MISSING_PERIOD
        if signals.route == "metric":  # computed from statement facts, one value per input (answer.metrics)
            return signals.unconfirmed if signals.agreement in ("disagree", "unconfirmed") else ""
        if signals.route:
            if signals.cell is None or signals.cell < self.cell_threshold:
                return (f"the table row found matches the question too weakly ({signals.value('cell'):.3f} < "
                        f"{self.cell_threshold:.3f})")
            if self.enabled and signals.agreement in ("disagree", "unconfirmed"):
                return signals.unconfirmed
            return ""
        if not signals.shown:
            return "the passages found address the assistant, not the reader" if signals.set_aside else "no passages retrieved"
        if not signals.drafted:
            return "the model gave no answer"
        if self.enabled and signals.agreement in ("disagree", "unconfirmed"):
            return signals.unconfirmed  # a number the filing's statements do not confirm (answer.confirm)
        if self.enabled and (veto := fitted.vetoed(signals)):
            return VETO_REASONS.get(veto, veto)
        if self.enabled and probability < fitted.threshold:
            said_no = "; the model found no answer" if signals.value("model_refused") else ""
            return f"the passages do not appear to answer it (P(answerable) {probability:.2f} < {fitted.threshold:.2f}{said_no})"
        if self.enabled and self.collection is not None and signals.card_match is not None \
                and (right := self.collection.probability(signals)) < self.collection.threshold:
            return (f"answers from this collection like this one are more often wrong (P(right) {right:.2f} < "
                    f"{self.collection.threshold:.2f})")
        if self.enabled and signals.filing and not FILING_TEXT_ANSWERS:
            return FILING_TEXT_REASON
        if self.enabled and self.head is not None and signals.head is not None and signals.head < self.head.veto_below:
            return (f"the model's hidden states say the passages do not answer it (P {signals.head:.2f} < "
                    f"{self.head.veto_below:.2f})")
        if self.enabled and signals.elsewhere:
            return f"the cited passage is from another document than the question names ({signals.elsewhere})"
        if not signals.sentences:
            return "no sentence of the answer is supported by the passages"
        return ""
