"""Follow-up questions: rewrite "When were they first formulated?" into a standalone question.

Retrieval sees one question at a time, so a follow-up that leans on the conversation
("they", "it", "that year", "his") is rewritten first against the earlier question and its
answer: by the language model when there is one, checked (the rewrite must keep the follow-up's
own terms and add the earlier turn's), else by putting the earlier topic, name or year in place of
the reference, else by attaching the previous question as context.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Callable

from rag.control_tokens import has_control_tokens, without_control_tokens


@dataclass(frozen=True)
class Turn:
    """One earlier exchange. `answer` is the short answer given (or its first sentence); empty when
    the question was refused or the client sent questions only."""

    question: str
    answer: str = ""

    def __post_init__(self):  # a turn from the chat's history is text a user or a client sent
        for name in ("question", "answer"):
            value = getattr(self, name)
            if isinstance(value, str) and has_control_tokens(value):
                object.__setattr__(self, name, without_control_tokens(value))

ANAPHORA = {"they", "them", "their", "theirs", "it", "its", "this", "that", "these", "those", "he", "she", "him",
            "her", "his", "there", "such", "former", "latter", "same",
            # "the next ones", "the subsequent revision", "the previous one": a thing named earlier
            "one", "ones", "next", "subsequent", "following", "previous", "earlier", "later", "then"}

_ELLIPSIS_LEAD = r"\s*(?:and|what about|how about|also)"  # "And Joseph Priestley?"
_ELLIPSIS = re.compile(_ELLIPSIS_LEAD + r"\b", re.IGNORECASE)
_ELLIPSIS_REST = re.compile(_ELLIPSIS_LEAD + r"\s+(.+?)\s*\??\s*", re.IGNORECASE)  # what stands for the topic
REWRITE_SYSTEM = ("Rewrite the follow-up question as one standalone question that names what it refers to, "
                  "using the earlier question and its answer. Reply with the rewritten question only.")
REWRITE_EXAMPLES = (  # one reference to the earlier question's topic, one to the earlier answer
    ("Earlier question: What does the 2019 water plan require of farmers?\nEarlier answer: metered wells\n"
     "Follow-up: When does it take effect?", "When does the 2019 water plan take effect?"),
    ("Earlier question: Who drafted the 2019 water plan?\nEarlier answer: Maria Lopez\n"
     "Follow-up: Which office did she lead that year?", "Which office did Maria Lopez lead in 2019?"),
)


def needs_context(question: str, previous: list[Turn], terms: Callable[[str], set[str]]) -> bool:
    """A follow-up leans on earlier turns when it uses a pronoun or names almost nothing itself.

    >>> needs_context("When were they first formulated?", [Turn("What are the Guidelines?")], lambda t: set(t.split()))
    True
    """
    if not previous:
        return False
    return has_reference(question) or len(terms(question)) < 2 or bool(_ELLIPSIS.match(question))


def rewrite_messages(previous: Turn, question: str) -> tuple[dict, ...]:
    messages = [{"role": "system", "content": REWRITE_SYSTEM}]
    for example, reply in REWRITE_EXAMPLES:
        messages += [{"role": "user", "content": example}, {"role": "assistant", "content": reply}]
    answer = f"\nEarlier answer: {previous.answer}" if previous.answer else ""
    messages.append({"role": "user", "content": f"Earlier question: {previous.question}{answer}\nFollow-up: {question}"})
    return tuple(messages)


def accept_rewrite(candidate: str, question: str, previous: Turn, terms: Callable[[str], set[str]]) -> bool:
    """A usable rewrite keeps most of the follow-up's terms and brings in a term of the earlier turn."""
    candidate = candidate.strip()
    earlier = f"{previous.question} {previous.answer}"
    if not candidate or len(candidate) > 3 * len(question) + len(earlier):
        return False
    own, got, topic = terms(question), terms(candidate), terms(earlier) - terms(question)
    kept = len(own & got) / len(own) if own else 1.0
    return kept >= 0.5 and bool(got & topic)


_QUESTION_WORDS = {"what", "which", "when", "who", "whom", "whose", "how", "why", "where", "do", "does", "did", "is",
                   "are", "was", "were", "can", "could", "should", "would", "will", "tell", "list", "name", "explain"}
_PHRASE = re.compile(r"(?:\bthe\s+)?[A-Z][\w.'’-]*(?:\s+(?:of|for|and|on|in|to|the|[A-Z][\w.'’-]*))*")
_SUBSTITUTES = {"they": "{}", "them": "{}", "it": "{}", "this": "{}", "that": "{}", "these": "{}", "those": "{}",
                "their": "{}'s", "its": "{}'s"}


_PREPOSITIONS = {"within", "by", "in", "to", "from", "since", "until", "under", "according", "after", "before",
                 "during", "besides", "against", "at", "on", "for", "as", "of", "with", "among", "and", "or", "but"}
_MONTHS = {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"}


def possessive(phrase: str) -> str:
    """English possessive: "the Guidelines" -> "the Guidelines'", "the treaty" -> "the treaty's".

    >>> possessive("the Guidelines"), possessive("the Alliance")
    ("the Guidelines'", "the Alliance's")
    """
    if phrase.endswith(("'s", "’s")):
        return phrase
    return phrase + ("'" if phrase.endswith("s") and not phrase.endswith("ss") else "'s")


def topic_phrase(previous: str) -> str | None:
    """The longest named phrase of the earlier question, e.g. "the Guidelines for Japan-U.S. Defense Cooperation".

    >>> topic_phrase("What do the Guidelines for Japan-U.S. Defense Cooperation provide?")
    'the Guidelines for Japan-U.S. Defense Cooperation'
    """
    best = None
    for m in _PHRASE.finditer(previous):
        words = m.group().split()
        while words and (words[0].lower() in _QUESTION_WORDS | _PREPOSITIONS or words[0] in _MONTHS):
            words = words[1:]
        while words and (words[-1].lower() in {"of", "for", "and", "on", "in", "to", "the"} or words[-1] in _MONTHS):
            words = words[:-1]
        phrase = re.sub(r"['’]s$", "", " ".join(words))  # "NARA's mission": the topic is NARA
        if phrase and (best is None or len(phrase) > len(best)):
            best = phrase
    if best and not best.lower().startswith("the ") and re.search(rf"\bthe\s+(?:[a-z]+\s+)?{re.escape(best)}", previous):
        best = "the " + best  # "the first Guidelines" -> "the Guidelines"
    return best


_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_TIME_REFERENCE = re.compile(r"\b(?:(in|since|by|until|before|after|from|of)\s+)?(?:that|the same) (?:year|time)\b"
                             r"|\b(since|until|before|after|by|from) then\b", re.IGNORECASE)
_PERSON = {"he", "she", "him", "his", "her", "hers"}
_NAME = re.compile(r"(?:[A-Z][\w.'’-]*\s+){1,3}[A-Z][\w.'’-]*")


_AMOUNT_REFERENCE = re.compile(r"\b(?:that|this|the same) (time|period|level|amount|rate|number|figure|share|"
                               r"percentage|target|date|deadline)\b", re.IGNORECASE)
_TIME_WORDS = {"time", "period", "date", "deadline"}
_TIMELY = re.compile(r"\b(?:day|week|month|year|hour|minute)s?\b|\b(?:1[5-9]|20)\d\d\b|"
                     r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\b",
                     re.IGNORECASE)


def _amount_of(answer: str, timely: bool = False) -> str | None:
    """The earlier answer when it is a quantity ("20 or fewer", "1.22") or, for "that time" or
    "that date", a duration or a date ("10 months", "September 30, 2024")."""
    answer = answer.strip().rstrip(".")
    if not re.search(r"\d", answer) or len(answer.split()) > 6:
        return None
    return answer if not timely or _TIMELY.search(answer) else None


def _year_of(turn: Turn) -> str | None:
    found = _YEAR.search(turn.answer) or _YEAR.search(turn.question)
    return found.group() if found else None


def _name_of(answer: str) -> str | None:
    """The earlier answer when it is a person's name ("Kevin K. McAleenan"), for "he", "his"."""
    answer = answer.strip().rstrip(".")
    return answer if _NAME.fullmatch(answer) and len(answer) <= 60 else None


def _phrase_answer(answer: str) -> str | None:
    """The earlier answer when it names a thing ("Article 6", "the Commission", "Bible") that a later
    "it" or "its" may stand for; not a number, a date or a sentence."""
    answer = answer.strip().rstrip(".")
    words = answer.split()
    if not 1 <= len(words) <= 4 or not re.search(r"[A-Za-z]{3}", answer) or _YEAR.fullmatch(answer):
        return None
    return answer


def candidate_rewrites(question: str, previous: Turn) -> list[str]:
    """What the follow-up may mean, most likely first: "that year" or "then" takes the earlier year;
    "he", "his" the earlier answer's name; "And X?" the earlier question about X; a pronoun takes
    the earlier question's topic or the thing the earlier answer named ("ones": the topic's head
    noun); last, the earlier question attached as context.

    >>> candidate_rewrites("What artist made the woodcuts for it?", Turn("What work of Luther's became popular?", "Bible"))
    ['What artist made the woodcuts for Luther?', 'What artist made the woodcuts for Bible?', "What artist made the woodcuts for it? (context: What work of Luther's became popular?)"]
    >>> candidate_rewrites("And Joseph Priestley?", Turn("When did Carl Wilhelm Scheele discover oxygen?"))[0]
    'When did Joseph Priestley discover oxygen?'
    """
    context = f"{question} (context: {previous.question})"
    year = _year_of(previous)
    if year and _TIME_REFERENCE.search(question):
        return [_TIME_REFERENCE.sub(lambda m: f"{m.group(1) or m.group(2) or 'in'} {year}", question, count=1)]
    reference = _AMOUNT_REFERENCE.search(question)
    amount = _amount_of(previous.answer, timely=bool(reference and reference.group(1).lower() in _TIME_WORDS))
    if reference and amount:  # "within that time" after "10 months", "to that level" after "20 or fewer"
        question = question[:reference.start()] + amount + question[reference.end():]
        if not has_reference(question):
            return [question]
    topic = topic_phrase(previous.question)
    ellipsis = _ELLIPSIS_REST.fullmatch(question)
    if ellipsis and topic and topic in previous.question and not has_reference(ellipsis.group(1)):
        return [previous.question.replace(topic, ellipsis.group(1).strip(), 1), context]
    name, thing = _name_of(previous.answer), _phrase_answer(previous.answer)
    for m in re.finditer(r"[A-Za-z']+", question):
        word = m.group().lower()
        if name and word in _PERSON:
            replacements = [possessive(name) if word in ("his", "hers") else name]
        elif word in ("ones", "one"):
            replacements = [topic.split()[-1]] if topic else []
        elif word in ("their", "its"):
            replacements = [possessive(t) for t in (topic, thing) if t]
        elif word in _SUBSTITUTES:
            replacements = [t for t in (topic, thing) if t]
        else:
            continue
        if replacements:
            return [question[:m.start()] + r + question[m.end():] for r in dict.fromkeys(replacements)] + [context]
    return [context]


def has_reference(text: str) -> bool:
    """Whether `text` still leans on the conversation ("its vision", "the next ones")."""
    return bool(set(re.findall(r"[a-z']+", text.lower())) & ANAPHORA)


def fallback_rewrite(question: str, previous: Turn, score: Callable[[str], float] | None = None) -> str:
    """The likeliest of `candidate_rewrites`: with `score` (how well a question matches the
    documents), the best-scoring; else the first.

    >>> fallback_rewrite("When were they first formulated?", Turn("What do the Guidelines provide?"))
    'When were the Guidelines first formulated?'
    >>> fallback_rewrite("What was their focus?", Turn("When were the first Guidelines formulated?"))
    "What was the Guidelines' focus?"
    >>> fallback_rewrite("When were the next ones developed?", Turn("When were the first Guidelines formulated?"))
    'When were the next Guidelines developed?'
    >>> fallback_rewrite("How many years have passed since then?", Turn("When were the 1997 Guidelines made?", "1997"))
    'How many years have passed since 1997?'
    >>> fallback_rewrite("What role does he have now?", Turn("Who held the record?", "John Elway"))
    'What role does John Elway have now?'
    >>> fallback_rewrite("What share is reviewed within that time?", Turn("How soon are claims reviewed?", "10 months"))
    'What share is reviewed within 10 months?'
    >>> fallback_rewrite("Who can amend it?", Turn("Which body has a monopoly on laws?", "the Commission"),
    ...                  score=lambda q: "Commission" in q)
    'Who can amend the Commission?'
    """
    candidates = candidate_rewrites(question, previous)
    resolved = candidates[:-1] if len(candidates) > 1 and candidates[-1].endswith(f"(context: {previous.question})") \
        else candidates
    if score is None or len(resolved) == 1:
        return resolved[0]
    return max(resolved, key=score)  # ties keep the earlier candidate


def standalone_question(question: str, previous: list[Turn], terms: Callable[[str], set[str]],
                        generate: Callable[[tuple[dict, ...]], str] | None = None,
                        score: Callable[[str], float] | None = None) -> str:
    if not needs_context(question, previous, terms):
        return question
    last = previous[-1]
    if generate is not None:
        candidate = generate(rewrite_messages(last, question)).strip().split("\n")[0].strip().strip('"')
        if accept_rewrite(candidate, question, last, terms):
            return candidate
    return fallback_rewrite(question, last, score)


def answer_from_chat(markdown: str) -> str:
    """The short answer of an assistant message as the chat shows it (bold lead line), else its first
    sentence without source markers; "" for a refusal or a warning."""
    text = html.unescape(markdown or "").strip()
    if not text or text.startswith(("Not found in the documents", "Warning:", "Preparing", "🚫", "⚠️", "⏳")):
        return ""
    lead = re.match(r"\*\*(.+?)\*\*", text)
    if lead:
        return lead.group(1).strip()
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return re.sub(r"\s*(?:\[\d+\])+", "", first).strip()
