"""Retrieval and answer metrics: pure functions over ranked ids, relevance sets and strings, and
the one declaration of every metric a run reports (`METRICS`): which questions its mean is taken
over, whether it heads the report and whether it is plotted. A metric that `eval.scoring.score`
writes and this list does not declare is an error, not a silently wrong mean.
"""
from __future__ import annotations

import fnmatch
import math
import re
import string
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str  # a per-question metric's key (a pattern such as "hit@*" for every k), or a summary's own figure
    over: str = "all"  # whose mean: "answerable", "unanswerable", "all"; "summary": summarise computes it;
    #                    "label": a fact of the question, never averaged
    headline: bool = True  # a row of the report's table (in this order)
    plotted: bool = False  # a bar of the report's plot


METRICS = (
    Metric("correct_and_cited", "answerable", plotted=True),
    Metric("correct", "answerable", plotted=True),
    Metric("exact_match", "answerable"),
    Metric("f1", "answerable", plotted=True),
    Metric("correct_refusal", "unanswerable", plotted=True),
    Metric("false_refusals", "summary"),
    Metric("citation_precision", "answerable"),
    Metric("citation_recall", "answerable"),
    Metric("grounded", plotted=True),
    Metric("hit@4"), Metric("hit@5"), Metric("recall@3"), Metric("recall@4"),
    Metric("mrr", plotted=True),
    Metric("ndcg@10", plotted=True),
    Metric("retrieve_s_p50", "summary"), Metric("first_token_s_p50", "summary"), Metric("first_token_s_p95", "summary"),
    Metric("total_s_p50", "summary"), Metric("total_s_p95", "summary"), Metric("tokens_per_s_p50", "summary"),
    Metric("false_refusal", "answerable", headline=False),
    Metric("quote_has_gold", "answerable", headline=False),
    Metric("hit@*", headline=False), Metric("recall@*", headline=False),  # other k: after the headline rows
    Metric("answerable", "label", headline=False), Metric("refused", "label", headline=False),
)


def declared(name: str) -> Metric:
    """The declaration of a metric by its key; ValueError for one that `METRICS` does not name.

    >>> declared("hit@7").over, declared("correct_refusal").over
    ('all', 'unanswerable')
    """
    found = next((m for m in METRICS if m.name == name), None) or next(
        (m for m in METRICS if "*" in m.name and fnmatch.fnmatchcase(name, m.name)), None)
    if found is None:
        raise ValueError(f"metric {name!r} is not declared in eval.metrics.METRICS")
    return found


HEADLINE = [m.name for m in METRICS if m.headline]
PLOTTED = [m.name for m in METRICS if m.plotted]


def hit_at_k(ranked: list[str], relevant: set[str], k: int) -> float:
    """1.0 if any of the first k results is relevant (also called success@k)."""
    return float(any(doc in relevant for doc in ranked[:k]))


def recall_at_k(ranked: list[str], relevant: set[str], k: int) -> float:
    """Share of the relevant items found in the first k results; 0 when nothing is relevant."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / len(relevant)


def reciprocal_rank(ranked: list[str], relevant: set[str]) -> float:
    """1 / rank of the first relevant result (MRR when averaged; Voorhees, TREC-8 QA, 1999)."""
    for rank, doc in enumerate(ranked, start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: list[str], gains: dict[str, float], k: int = 10) -> float:
    """nDCG@k with linear gains and log2 discount, as trec_eval/pytrec_eval compute it for BEIR.

    DCG = sum_i gain(d_i) / log2(i + 1) over ranks i = 1..k; divided by the DCG of the ideal order
    (Jarvelin and Kekalainen, "Cumulated gain-based evaluation of IR techniques", TOIS 2002).

    >>> round(ndcg_at_k(["x", "a"], {"a": 1}, 10), 4)
    0.6309
    """
    dcg = sum(gains.get(doc, 0.0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, references: list[str]) -> float:
    """SQuAD exact match (Rajpurkar et al., 2016): 1 if the normalised strings are equal for any reference."""
    return float(any(normalize_answer(prediction) == normalize_answer(ref) for ref in references))


def token_f1(prediction: str, references: list[str]) -> float:
    """SQuAD token F1: harmonic mean of token precision and recall, best over the references.

    >>> round(token_f1("in 1978", ["1978"]), 3)
    0.667
    """
    best = 0.0
    pred_tokens = normalize_answer(prediction).split()
    for ref in references:
        ref_tokens = normalize_answer(ref).split()
        common = sum((Counter(pred_tokens) & Counter(ref_tokens)).values())
        if common == 0:
            continue
        precision, recall = common / len(pred_tokens), common / len(ref_tokens)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best
