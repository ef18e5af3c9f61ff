"""Follow-up questions: rewrite "When were they first formulated?" into a standalone question.

Retrieval sees one question at a time, so a follow-up that leans on the conversation
("they", "it", "that treaty") is rewritten first: by the language model when there is one,
checked (the rewrite must keep the follow-up's own terms and add the topic's), else by
attaching the previous question as context.
"""
from __future__ import annotations

import re
from typing import Callable

ANAPHORA = {"they", "them", "their", "theirs", "it", "its", "this", "that", "these", "those", "he", "she", "him",
            "her", "his", "there", "such", "former", "latter", "same",
            # "the next ones", "the subsequent revision", "the previous one": a thing named earlier
            "one", "ones", "next", "subsequent", "following", "previous", "earlier", "later", "then"}

REWRITE_SYSTEM = ("Rewrite the follow-up question as one standalone question that names what it refers to, "
                  "using the earlier question. Reply with the rewritten question only.")
REWRITE_EXAMPLE = (
    "Earlier question: What does the 2019 water plan require of farmers?\nFollow-up: When does it take effect?",
    "When does the 2019 water plan take effect?",
)


def needs_context(question: str, previous: list[str], terms: Callable[[str], set[str]]) -> bool:
    """A follow-up leans on earlier turns when it uses a pronoun or names almost nothing itself.

    >>> needs_context("When were they first formulated?", ["What are the Guidelines?"], lambda t: set(t.split()))
    True
    """
    if not previous:
        return False
    words = set(re.findall(r"[a-z']+", question.lower()))
    return bool(words & ANAPHORA) or len(terms(question)) < 2


def rewrite_messages(previous: str, question: str) -> tuple[dict, ...]:
    example, reply = REWRITE_EXAMPLE
    return (
        {"role": "system", "content": REWRITE_SYSTEM},
        {"role": "user", "content": example},
        {"role": "assistant", "content": reply},
        {"role": "user", "content": f"Earlier question: {previous}\nFollow-up: {question}"},
    )


def accept_rewrite(candidate: str, question: str, previous: str, terms: Callable[[str], set[str]]) -> bool:
    """A usable rewrite keeps most of the follow-up's terms and brings in a term of the earlier question."""
    candidate = candidate.strip()
    if not candidate or len(candidate) > 3 * len(question) + len(previous):
        return False
    own, got, topic = terms(question), terms(candidate), terms(previous) - terms(question)
    kept = len(own & got) / len(own) if own else 1.0
    return kept >= 0.5 and bool(got & topic)


_QUESTION_WORDS = {"what", "which", "when", "who", "whom", "whose", "how", "why", "where", "do", "does", "did", "is",
                   "are", "was", "were", "can", "could", "should", "would", "will", "tell", "list", "name", "explain"}
_PHRASE = re.compile(r"(?:\bthe\s+)?[A-Z][\w.'’-]*(?:\s+(?:of|for|and|on|in|to|the|[A-Z][\w.'’-]*))*")
_SUBSTITUTES = {"they": "{}", "them": "{}", "it": "{}", "this": "{}", "that": "{}", "these": "{}", "those": "{}",
                "their": "{}'s", "its": "{}'s"}


def possessive(phrase: str) -> str:
    """English possessive: "the Guidelines" -> "the Guidelines'", "the treaty" -> "the treaty's".

    >>> possessive("the Guidelines"), possessive("the Alliance")
    ("the Guidelines'", "the Alliance's")
    """
    return phrase + ("'" if phrase.endswith("s") and not phrase.endswith("ss") else "'s")


def topic_phrase(previous: str) -> str | None:
    """The longest named phrase of the earlier question, e.g. "the Guidelines for Japan-U.S. Defense Cooperation".

    >>> topic_phrase("What do the Guidelines for Japan-U.S. Defense Cooperation provide?")
    'the Guidelines for Japan-U.S. Defense Cooperation'
    """
    best = None
    for m in _PHRASE.finditer(previous):
        words = m.group().split()
        while words and words[0].lower() in _QUESTION_WORDS:
            words = words[1:]
        while words and words[-1].lower() in {"of", "for", "and", "on", "in", "to", "the"}:
            words = words[:-1]
        phrase = " ".join(words)
        if phrase and (best is None or len(phrase) > len(best)):
            best = phrase
    if best and not best.lower().startswith("the ") and re.search(rf"\bthe\s+(?:[a-z]+\s+)?{re.escape(best)}", previous):
        best = "the " + best  # "the first Guidelines" -> "the Guidelines"
    return best


def fallback_rewrite(question: str, previous: str) -> str:
    """Put the earlier question's topic in place of the first pronoun ("ones" takes its head
    noun); else attach the earlier question as context.

    >>> fallback_rewrite("When were they first formulated?", "What do the Guidelines provide?")
    'When were the Guidelines first formulated?'
    >>> fallback_rewrite("What was their focus?", "When were the first Guidelines formulated?")
    "What was the Guidelines' focus?"
    >>> fallback_rewrite("When were the next ones developed?", "When were the first Guidelines formulated?")
    'When were the next Guidelines developed?'
    """
    topic = topic_phrase(previous)
    if topic:
        for m in re.finditer(r"[A-Za-z']+", question):
            word = m.group().lower()
            if word in ("ones", "one"):
                replacement = topic.split()[-1]
            elif word in ("their", "its"):
                replacement = possessive(topic)
            elif word in _SUBSTITUTES:
                replacement = topic
            else:
                continue
            return question[:m.start()] + replacement + question[m.end():]
    return f"{question} (context: {previous})"


def standalone_question(question: str, previous: list[str], terms: Callable[[str], set[str]],
                        generate: Callable[[tuple[dict, ...]], str] | None = None) -> str:
    if not needs_context(question, previous, terms):
        return question
    last = previous[-1]
    if generate is not None:
        candidate = generate(rewrite_messages(last, question)).strip().split("\n")[0].strip().strip('"')
        if accept_rewrite(candidate, question, last, terms):
            return candidate
    return fallback_rewrite(question, last)
