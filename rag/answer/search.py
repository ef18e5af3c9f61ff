"""The search stage: the question's scope (the documents it names, `index.scope`), its passages
found there with the user's mode and k, those that address the assistant set aside
(`injection`), then their sentences ranked and the passages fitted into the prompt's budget.

What an answer is read from is decided here, before any model writes: `find` is also what
`rag search` shows.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import NamedTuple

from rag.answer import sentences as choose
from rag.answer.answer_types import DATE, YEAR, has_answer_type
from rag.answer.disagree import values_of
from rag.answer.injection import set_aside
from rag.answer.prompting import FittedPrompt, fit_prompt
from rag.answer.question import Question
from rag.index.fusion import first_keeping
from rag.index.lexical import terms
from rag.index.retrieval import Retriever
from rag.index.scope import choose_scope
from rag.records import Found, Passage

ANSWERING_DEPTH = 2  # a typed question looks this many times k deep for passages that can answer
NEAR_COPY = 0.8  # a passage holding a better one's words that make this share of its own is a copy of it
COPY_SEARCH_LIMIT = 4  # copies dropped, a search goes at most this many times its depth deep


class Prepared(NamedTuple):
    found: Found  # the scope searched, the passages retrieved, fit to answer from, and set aside
    ranked: list[choose.ScoredSentence]
    fitted: FittedPrompt
    scope = property(lambda self: self.found.scope)
    retrieved = property(lambda self: self.found.retrieved)
    passages = property(lambda self: self.found.passages)
    flagged = property(lambda self: self.found.flagged)


def find(question: Question, retriever: Retriever, embed) -> Found:
    """The question's scope searched, and the passages that address the assistant set aside."""
    vocabulary = retriever.index.bm25.vocab_dict
    scope = choose_scope(question.asked, retriever.cards(), lambda name: bool(terms(name)) and terms(name) <= vocabulary.keys())
    several = len(scope.sources) > 1
    depth = ANSWERING_DEPTH * question.k if question.answer_kind or several else question.k
    retrieved = [] if scope.missing else distinct_search(
        lambda deep: retriever.search(question.query, k=deep, mode=question.mode, sources=scope.sources), depth)
    retrieved = answering_first(retrieved, question.answer_kind)
    if scope.first and not scope.missing:
        pooled = {p.chunk.source for p in retrieved}
        retrieved = newest_first(retrieved + [p for source in scope.first if source not in pooled
                                              for p in retriever.search(question.query, k=1, mode=question.mode,
                                                                        sources=(source,))], scope.first)
    retrieved = first_keeping(spread(retrieved, question.k) if several else retrieved, question.k, _clear)
    passages, flagged = set_aside(retrieved, embed)
    return Found(scope, retrieved, fit_to_answer(passages, question.answer_kind), flagged)


def _clear(passage: Passage) -> bool:
    """BM25 led with it clearly (`fusion.clear_lead`): the k passages keep it."""
    return bool(passage.scores.get("clear"))


def distinct_search(search, depth: int) -> list[Passage]:
    """`depth` passages of `search(k)` none of which repeats another (`without_copies`), searching
    deeper for each copy dropped: a note saved in four files, or a paragraph every filing of a
    company prints, takes one place, and the passage that answers is not pushed out by copies."""
    asked = depth
    while True:
        found = search(asked)
        kept = without_copies(found)
        if len(kept) >= depth or len(found) < asked or asked >= COPY_SEARCH_LIMIT * depth:
            return kept[:depth]
        asked += depth - len(kept)


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def without_copies(passages: list[Passage]) -> list[Passage]:
    """The passages, each dropped that repeats a better-ranked one: its words (case, spacing and
    punctuation aside) are held in order by that one, or hold all of that one's and little more
    (`NEAR_COPY` of their length). A copy says nothing new; the better-ranked keeps its place and
    its own section for the citation. Ranks renumbered.

    >>> from rag.records import Chunk
    >>> p = lambda text, rank: Passage(Chunk(text, f"f{rank}", (), text, 0, 0), 1.0, rank)
    >>> found = [p("A b c d e.", 1), p("F.", 2), p("a  B c", 3), p("a b c d e f", 4), p("a b c d e f g h i j k", 5)]
    >>> [(x.chunk.text, x.rank) for x in without_copies(found)]
    [('A b c d e.', 1), ('F.', 2), ('a b c d e f g h i j k', 3)]
    """
    kept: list[Passage] = []
    words: list[str] = []
    for passage in passages:
        own = _words(passage.chunk.text)
        if own.strip() and any(own in other or other.strip() and other in own and len(other) >= NEAR_COPY * len(own)
                               for other in words):
            continue
        kept.append(passage)
        words.append(own)
    return [p if p.rank == n else replace(p, rank=n) for n, p in enumerate(kept, start=1)]


def newest_first(passages: list[Passage], first: tuple[str, ...]) -> list[Passage]:
    """The best passage of each document in `first` (a question naming no period: its company's
    newest filings, `scope.newest_filings`), then the others in their order, ranks renumbered.

    >>> from rag.records import Chunk
    >>> p = lambda source, rank: Passage(Chunk(f"t{rank}", source, (), "", 0, 0), 1.0, rank)
    >>> [x.chunk.source for x in newest_first([p("old", 1), p("old", 2), p("new", 3), p("new", 4)], ("new",))]
    ['new', 'old', 'old', 'new']
    """
    lead = [next(p for p in passages if p.chunk.source == source) for source in first
            if any(p.chunk.source == source for p in passages)]
    lead.sort(key=passages.index)
    ordered = lead + [p for p in passages if p not in lead]
    return [p if p.rank == n else replace(p, rank=n) for n, p in enumerate(ordered, start=1)]


def spread(passages: list[Passage], k: int) -> list[Passage]:
    """At most half of the `k` passages from one document, when the question's scope holds
    several (one company's filings of the year and its release, or of every year when it names
    none): look-alike filings share their wording, and the first one's passages would fill every
    place though the question may be about another. Passages past the share go last, in order.

    >>> from rag.records import Chunk
    >>> p = lambda source, rank: Passage(Chunk(f"t{rank}", source, (), "", 0, 0), 1.0, rank)
    >>> [x.chunk.source for x in spread([p("a", 1), p("a", 2), p("a", 3), p("b", 4), p("a", 5)], 4)]
    ['a', 'a', 'b', 'a', 'a']
    """
    share, seen, first, later = max(1, (k + 1) // 2), {}, [], []
    for passage in passages:
        seen[passage.chunk.source] = seen.get(passage.chunk.source, 0) + 1
        (first if seen[passage.chunk.source] <= share else later).append(passage)
    return [p if p.rank == n else replace(p, rank=n) for n, p in enumerate(first + later, start=1)]


def _holds(text: str, kind: str) -> bool:
    return has_answer_type(text, kind) or bool(values_of(text, kind))  # "in 1492" is a time too


def answering_first(passages: list[Passage], kind: str | None) -> list[Passage]:
    """The passages that can hold the answer's kind of value before those that cannot, each
    group in its retrieved order, ranks renumbered: what `rag search` shows, k of them."""
    if not kind:
        return passages
    ordered = [p for p in passages if _holds(p.chunk.text, kind)] + [p for p in passages if not _holds(p.chunk.text, kind)]
    return [p if p.rank == n else replace(p, rank=n) for n, p in enumerate(ordered, start=1)]


def fit_to_answer(passages: list[Passage], kind: str | None) -> list[Passage]:
    """For a question of time ("when", "which year"), the passages that name a time, once any
    does: a note whose words are close to the question's but that says no date ("The first
    Guidelines are discussed below") never sways the model's reading of one that can answer.
    `rag search` still lists it, last. For a number nothing is left out (nearly every passage
    has a digit); `answering_first` only puts those without one last."""
    if kind not in (YEAR, DATE):
        return passages
    can = [p for p in passages if _holds(p.chunk.text, kind)]
    return can or passages


def rank(text: str, passages: list[Passage], embed) -> list[choose.ScoredSentence]:
    """The passages' sentences, best first for the question's text."""
    return choose.best_sentences(text, [p.chunk.text for p in passages], embed, terms)


def fit(text: str, passages: list[Passage], ranked: list[choose.ScoredSentence], count_tokens, budget: int,
        focus_sentences: int | None, question_first: bool) -> FittedPrompt:
    """The prompt: the passages (or their best sentences) that fit the budget, in rank order."""
    texts = [p.chunk.text for p in passages]
    return fit_prompt(text, passages, count_tokens, budget, texts=choose.focus(ranked, texts, focus_sentences),
                      question_first=question_first)


def ranked_shown(fitted: FittedPrompt, text: str, ranked: list[choose.ScoredSentence],
                 embed) -> list[choose.ScoredSentence]:
    """The ranking of the passages the model was shown: a prefix of the retrieved ones (ranked
    again for a question cut to fit)."""
    if fitted.question == text:
        return choose.within(ranked, len(fitted.passages))
    return rank(fitted.question, list(fitted.passages), embed)
