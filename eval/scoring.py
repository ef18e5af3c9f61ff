"""Per-question metrics from one answer record (the `rag ask --json` shape) and its gold. Pure."""
from __future__ import annotations

import statistics
from pathlib import Path

from eval.judge import is_correct, section_matches
from eval.metrics import declared, exact_match, hit_at_k, ndcg_at_k, recall_at_k, reciprocal_rank, token_f1
from eval.questions import Question


def _relevant(passage: dict, question: Question) -> str | None:
    """The gold item a retrieved passage matches (a gold section or a gold source file), if any."""
    for gold in question.sections:
        if section_matches(passage["section"], gold):
            return f"section:{gold}"
    stem = Path(passage["source"]).stem
    for gold in question.extra.get("sources", ()):
        if stem == gold:
            return f"source:{gold}"
    return None


def gold_items(question: Question) -> set[str]:
    return {f"section:{g}" for g in question.sections} | {f"source:{g}" for g in question.extra.get("sources", ())}


def retrieval_metrics(retrieved: list[dict], question: Question, k: int) -> dict:
    """Ranks are over gold items: a second passage of an already-found section adds nothing."""
    ranked: list[str] = []
    for passage in retrieved:
        item = _relevant(passage, question) or f"other:{passage['chunk_id']}"
        if item not in ranked:
            ranked.append(item)
    gold = gold_items(question)
    return {
        f"hit@{k}": hit_at_k(ranked, gold, k),
        f"recall@{k}": recall_at_k(ranked, gold, k),
        "mrr": reciprocal_rank(ranked, gold),
        "ndcg@10": ndcg_at_k(ranked, {g: 1.0 for g in gold}, 10),
    }


def citation_metrics(citations: list[dict], question: Question) -> dict:
    """Precision: cited passages that are gold. Recall: gold items that some citation covers."""
    if not citations:
        return {"citation_precision": 0.0, "citation_recall": 0.0}
    matched = [_relevant(c, question) for c in citations]
    gold = gold_items(question)
    return {
        "citation_precision": sum(m is not None for m in matched) / len(citations),
        "citation_recall": len({m for m in matched if m}) / len(gold) if gold else 0.0,
    }


def score(record: dict, question: Question, k: int) -> dict:
    metrics: dict = {"answerable": question.answerable, "refused": bool(record["refused"])}
    if question.sections or question.extra.get("sources"):
        metrics.update(retrieval_metrics(record["retrieved"], question, k))
    if question.extra.get("retrieval_only"):
        return {**metrics, "answerable": True}
    sentences = record.get("sentences", [])
    metrics["grounded"] = (sum(s["supported"] for s in sentences) / len(sentences)) if sentences else None
    if question.answerable:
        answer = "" if record["refused"] else record.get("short_answer") or record["answer"]
        metrics["exact_match"] = exact_match(strip_markers(answer), list(question.answers))
        metrics["f1"] = token_f1(strip_markers(answer), list(question.answers))
        metrics["correct"] = is_correct(answer, question.answers)
        if not record["refused"]:  # the evidence shown carries the answer (whatever the short answer says)
            quoted = " ".join(s["text"] for s in sentences)
            metrics["quote_has_gold"] = is_correct(quoted, question.answers)
        metrics["false_refusal"] = bool(record["refused"])
        metrics.update(citation_metrics(record["citations"], question))
        cites_gold = metrics.get("citation_precision", 0) > 0 if gold_items(question) else True
        metrics["correct_and_cited"] = metrics["correct"] and cites_gold
    else:
        metrics["correct_refusal"] = bool(record["refused"])
    return metrics


def funnel_stage(record: dict, question: Question) -> str:
    """The first stage of the answer's way that failed for this question (`eval.funnel`), from
    the gold the set gives: its document (`document` or `sources`), pages (`pages`: [[stem, page]]),
    sections and answers."""
    from eval import funnel

    documents = {Path(d).stem for d in [question.extra.get("document") or ""] + list(question.extra.get("sources", ())) if d}
    pages = {(Path(doc).stem, int(page)) for doc, page in question.extra.get("pages", ())}
    gold = funnel.Gold(answerable=question.answerable, documents=frozenset(documents), pages=frozenset(pages),
                       sections=question.sections, section_matches=section_matches)
    return funnel.first_failure(record, gold, lambda text: is_correct(strip_markers(text), question.answers))


def strip_markers(text: str) -> str:
    import re

    return re.sub(r"\s*\[\d+\]", "", text)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]


def summarise(rows: list[dict]) -> dict:
    """Means of each metric over the questions it applies to, refusal rates, latency percentiles."""
    def mean(key, subset):
        values = [r["metrics"][key] for r in subset if r["metrics"].get(key) is not None]
        return round(statistics.mean(float(v) for v in values), 4) if values else None

    answerable = [r for r in rows if r["metrics"]["answerable"]]
    unanswerable = [r for r in rows if not r["metrics"]["answerable"]]
    over = {"answerable": answerable, "unanswerable": unanswerable, "all": rows}
    summary = {"questions": len(rows), "answerable": len(answerable), "unanswerable": len(unanswerable)}
    for key in sorted({k for r in rows for k in r["metrics"]}):
        metric = declared(key)  # an undeclared metric is an error, not a mean over the wrong questions
        if metric.over in over:
            summary[key] = mean(key, over[metric.over])
    summary["false_refusals"] = sum(r["metrics"].get("false_refusal", False) for r in answerable)
    for timing in ("retrieve_s", "first_token_s", "total_s"):
        values = [r["timings"][timing] for r in rows if timing in r.get("timings", {})]
        summary[f"{timing}_p50"] = percentile(values, 0.5)
        summary[f"{timing}_p95"] = percentile(values, 0.95)
    if any("funnel" in r for r in rows):
        from eval.funnel import counts

        summary["funnel"] = dict(counts([r["funnel"] for r in rows if "funnel" in r]))
    rates = [r["tokens_per_s"] for r in rows if r.get("tokens_per_s")]
    summary["tokens_per_s_p50"] = percentile(rates, 0.5)
    return summary
