"""The render stage: the decided answer as one frozen `Answer` (its text, the sentences shown,
the passages cited with their support, the refusal's reason), and the notices shown beside it."""
from __future__ import annotations

from dataclasses import replace

from rag.answer.decision import REFUSAL_ANSWER, Signals, Verdict
from rag.answer.prompting import FittedPrompt
from rag.answer.read import Reading
from rag.answer.search import Prepared
from rag.answer.disagree import disagreement_text
from rag.records import Answer, Citation, SentenceSupport
from rag.render import render_answer


def warnings(prepared: Prepared) -> list[str]:
    """What the user is told beside the answer: passages set aside, a question cut to fit."""
    found = []
    if prepared.flagged:
        found.append(f"{len(prepared.flagged)} passage(s) set aside: they address the assistant "
                     f"({'; '.join(repr(v) for v in prepared.flagged.values())})")
    if prepared.fitted.question_truncated:
        found.append("the question was too long for the model's context and was truncated")
    return found


def decided(candidate: Answer, verdict: Verdict, signals: Signals) -> Answer:
    """A structured route's candidate with the decision's verdict on it: a number the second
    route did not confirm is refused in words that say what was found and why it is not shown,
    both readings kept (`candidates`)."""
    readings = dict(signals.candidates)
    if verdict.refused and _unconfirmed(verdict, signals):
        return replace(candidate, text=_unconfirmed(verdict, signals), refused=True,
                       refusal_reason=verdict.reason, short_answer="", candidates=readings)
    return replace(candidate, refused=verdict.refused, refusal_reason=verdict.reason, candidates=readings)


def _unconfirmed(verdict: Verdict, signals: Signals) -> str:
    """A refusal of a number the statements did not confirm, in words ("" for any other refusal)."""
    if signals.unconfirmed and verdict.reason == signals.unconfirmed:
        return verdict.reason[0].upper() + verdict.reason[1:] + "."
    return ""


def text_answer(question: str, prepared: Prepared, raw: str, reading: Reading, signals: Signals, verdict: Verdict,
                model: str, timings: dict, notices: list[str]) -> Answer:
    """The text route's answer: the quoted sentences (with the short answer before them) and the
    passages they cite, or the refusal."""
    refused, fitted = verdict.refused, prepared.fitted
    if verdict.disagree:
        return _disagreement(question, prepared, raw, signals, verdict, model, timings, notices)
    cited: list[Citation] = []
    if not refused:
        best: dict[int, float] = {}
        for s in reading.sentences:
            for n in s.citations:
                best[n] = max(best.get(n, 0.0), s.support)
        cited = [Citation(n, fitted.passages[n - 1], best[n]) for n in sorted(best)]
    short = "" if refused else reading.short
    return Answer(
        question=question,
        text=(_unconfirmed(verdict, signals) or REFUSAL_ANSWER) if refused
        else (f"{short} — " if short else "") + render_answer(reading.sentences),
        refused=refused,
        sentences=[] if refused else reading.sentences,
        cited=cited,
        retrieved=prepared.retrieved,
        model=model,
        timings=timings,
        answerability=verdict.probability,
        refusal_reason=verdict.reason,
        candidates=dict(signals.candidates),
        withheld=_withheld(reading, fitted) if refused else {},
        raw=raw,
        warnings=notices,
        flagged=prepared.flagged,
        short_answer=short,
        signals=signals.recorded(),
        head_probability=signals.head,
        confidence=verdict.confidence,
        scope=prepared.scope.reason,
    )


def _disagreement(question: str, prepared: Prepared, raw: str, signals: Signals, verdict: Verdict, model: str,
                  timings: dict, notices: list[str]) -> Answer:
    """The documents' disagreement as the answer: each value with its passage and document cited
    ("The documents disagree: 1978 [1] (japan-us-alliance.md), 1492 [2] (note.md)."), no value chosen."""
    fitted, found = prepared.fitted, list(signals.disagree)
    cited = [Citation(n, fitted.passages[n - 1], 1.0) for n in sorted({f.passage for f in found})]
    sentences = [SentenceSupport(disagreement_text(found, markers=False), [f.passage for f in found], 1.0, True)]
    return Answer(question=question, text=disagreement_text(found), refused=False, sentences=sentences, cited=cited,
                  retrieved=prepared.retrieved, model=model, timings=timings, answerability=verdict.probability,
                  raw=raw, warnings=notices, flagged=prepared.flagged, signals=signals.recorded(),
                  head_probability=signals.head, confidence=verdict.confidence, scope=prepared.scope.reason,
                  disagreement=[f.to_json() for f in found])


def _withheld(reading: Reading, fitted: FittedPrompt) -> dict:
    """What a refused text answer would have said and where it read it, so that `--json` (and the
    evaluation's funnel) can tell a refusal of a right reading from one of a wrong reading."""
    if not reading.sentences or not reading.sentences[0].citations:
        return {}
    chunk = fitted.passages[reading.sentences[0].citations[0] - 1].chunk
    return {"short_answer": reading.short, "sentence": reading.sentences[0].text, "source": chunk.source,
            "page": chunk.page, "section": chunk.section_path}
