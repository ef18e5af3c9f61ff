"""Rank fusion: pure functions over ranked id lists."""
from __future__ import annotations

RRF_K = 60


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse ranked lists: score(d) = sum over lists of 1 / (k + rank(d)), ranks from 1.

    Cormack, Clarke and Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and individual
    rank learning methods", SIGIR 2009 (k = 60 as in the paper).

    >>> reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=1)
    [('b', 0.8333333333333333), ('a', 0.5), ('c', 0.3333333333333333)]
    """
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def relative_score_fusion(runs: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """Fuse scored lists by their scores, each scaled to [0, 1] over its own list (its best 1,
    its last 0), summed; an item a list lacks scores at most that list's last, so 0 from it.

    Rank fusion forgets how far ahead a list's first items are: when BM25 scores two passages
    at 13.9 and 13.6 and the next at 4.4, while the dense scores of its top fifty lie between
    0.48 and 0.38 (a small embedding model over number-heavy reports), reciprocal ranks put the
    dense list's middling passages beside BM25's clear ones and push those out of the top k.
    Scaled scores keep the margin of the list that is sure. It is Weaviate's relativeScoreFusion,
    the min-max convex combination that Bruch, Gai and Ingber ("An Analysis of Fusion Functions
    for Hybrid Retrieval", TOIS 2023) find better than RRF in and out of domain, with equal weights.

    >>> fused = relative_score_fusion([[("a", 13.9), ("b", 13.6), ("c", 4.4), ("d", 4.0)],
    ...                                [("e", 0.48), ("f", 0.47), ("g", 0.46), ("b", 0.38)]])
    >>> [item for item, _ in fused]  # RRF puts "b" first: second in one list and last in the other
    ['a', 'e', 'b', 'f', 'g', 'c', 'd']
    """
    fused: dict[str, float] = {}
    for run in runs:
        if not run:
            continue
        values = [score for _, score in run]
        top, low = max(values), min(values)
        for item, score in run:
            fused[item] = fused.get(item, 0.0) + ((score - low) / (top - low) if top > low else 1.0)
    order = {item: n for n, item in enumerate(fused)}
    return sorted(fused.items(), key=lambda pair: (-pair[1], order[pair[0]]))


CLEAR_RATIO = 1.75  # a BM25 score this many times the next one's ends the list's clear lead
CLEAR_MOST = 3  # at most this many passages lead a list clearly: a place is left for the other list


def clear_lead(scores, ratio: float = CLEAR_RATIO, most: int = CLEAR_MOST) -> int:
    """How many of a ranked list's first items stand clear of the rest: the first i ≤ `most`
    whose score is at least `ratio` times the next one's (or the next scores nothing), else 0.

    BM25 scores are sums of term weights, so a ratio between two of them says how much more of
    the question a passage matches; the dense list's cosines sit in a narrow band and have no
    such reading. Rank fusion forgets the lead: beside ten agency reports, "How many years have
    passed since the 1997 Guidelines were formulated?" has BM25 scores 14.2, 13.8, 4.4, ... and
    the two it is sure of fall to ranks 2 and 8 of the fused list, under dense look-alikes.

    >>> clear_lead([14.2, 13.8, 4.4, 4.3]), clear_lead([6.0, 5.0, 4.0, 3.0]), clear_lead([3.0])
    (2, 0, 1)
    """
    for i in range(min(most, len(scores))):
        if i + 1 == len(scores) or scores[i] >= ratio * scores[i + 1]:
            return i + 1
    return 0


def first_keeping(items: list, k: int, keep) -> list:
    """The first k items, where any item `keep` picks that lies beyond them takes the place of
    the last one it does not pick; the order is otherwise kept, so a kept item comes in last.

    >>> first_keeping(list("abcdef"), 3, lambda x: x in "ef")
    ['a', 'e', 'f']
    >>> first_keeping(list("abcdef"), 3, lambda x: x in "b")
    ['a', 'b', 'c']
    """
    head = list(items[:k])
    for extra in [x for x in items[k:] if keep(x)]:
        out = next((n for n in range(len(head) - 1, -1, -1) if not keep(head[n])), None)
        if out is None:
            break
        del head[out]
        head.append(extra)
    order = {id(x): n for n, x in enumerate(items)}
    return sorted(head, key=lambda x: order[id(x)])
