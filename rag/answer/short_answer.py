"""The short answer: the phrase of the model's draft that answers, kept only when the quoted
document sentence states it. Pure (the model's copying is `Generator.copy_span`).

A reader wants "1978", not a 26-word sentence; a small model's draft often holds the phrase but
may also invent one. A draft of a few words is the phrase; from a longer draft the model copies
the phrase out (decoding restricted to the draft's own words, see `rag.generate.copy_span`). The
phrase is shown only when the evidence sentence contains it (after SQuAD-style normalisation:
case, punctuation, articles), and never when it just repeats the question.
"""
from __future__ import annotations

import re
import string

from rag.answer.grounding import answer_sentences, parse_markers

MAX_WORDS = 12
PHRASE_WORDS = 4  # a draft this short is already a phrase: kept whole, even the question's own words
_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation + "“”‘’–—"})
_LEAD = re.compile(r"^(?:the\s+)?(?:short\s+)?answer(?:\s+is)?\s*[:\-]?\s*", re.IGNORECASE)


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, no articles, single spaces.

    >>> normalise("The U.S.-Japan Treaty, 1960!")
    'u s japan treaty 1960'
    """
    words = text.lower().translate(_PUNCTUATION).split()
    return " ".join(w for w in words if w not in {"a", "an", "the"})


def candidate(draft: str) -> str:
    """The draft as a short answer when it is a phrase already (at most PHRASE_WORDS words).

    A longer draft restates the question ("The first Guidelines were formulated in 1978"): the
    model copies the phrase out of it (`Generator.copy_span`): a cut by rule (the longest run of
    words that add content terms to the question) loses the gold answer's words more often and
    shows wrong phrases in bold ("Arrangements" for "Japan-U.S. Security Arrangements"; figures in
    docs/measured.md, "Tried and not kept").

    >>> candidate("Answer: Computational complexity theory [1].")
    'Computational complexity theory'
    >>> candidate("The first Guidelines were formulated in 1978 [1].")
    ''
    """
    text = _LEAD.sub("", draft_sentence(draft)).strip().rstrip(".!?;:,").strip()
    return text if len(text.split()) <= PHRASE_WORDS else ""


def states(evidence: str, phrase: str) -> bool:
    """The evidence contains the phrase as whole words, after normalisation."""
    phrase = normalise(phrase)
    return bool(phrase) and f" {phrase} " in f" {normalise(evidence)} "


def accept(phrase: str, evidence: str, question: str) -> str:
    """The phrase when it is short, stated by the evidence and more than the question's own words.

    >>> accept("1978", "The first Guidelines were formulated in 1978.", "When were they formulated?")
    '1978'
    >>> accept("1979", "The first Guidelines were formulated in 1978.", "When were they formulated?")
    ''
    """
    words = normalise(phrase).split()
    if not words or len(words) > MAX_WORDS or not states(evidence, phrase):
        return ""
    if set(words) <= set(normalise(question).split()):
        return ""
    return phrase


SPAN_SYSTEM = "Copy from the passage the shortest phrase that answers the question. Reply with the phrase only."
SPAN_EXAMPLES = (  # invented, not from any evaluation set
    ("The bridge, designed by Anna Berg, opened to traffic in 1931 after six years of work.",
     "When did the bridge open?", "1931"),
    ("Most of the harbour's revenue comes from container fees, which rose by 12 percent last year.",
     "Where does most of the harbour's revenue come from?", "container fees"),
)


def span_messages(question: str, passage: str) -> tuple[dict, ...]:
    """The chat for copying the answer out of one evidence sentence, with two worked examples."""
    messages = [{"role": "system", "content": SPAN_SYSTEM}]
    for text, asked, answer in SPAN_EXAMPLES:
        messages += [{"role": "user", "content": f"Passage: {text}\nQuestion: {asked}"},
                     {"role": "assistant", "content": answer}]
    messages.append({"role": "user", "content": f"Passage: {passage}\nQuestion: {question}"})
    return tuple(messages)


SPAN_FIXED = 1 + 2 * len(SPAN_EXAMPLES)  # leading messages of `span_messages` that never change
# A phrase copied from the draft is shown only when the model copied it with a mean token
# log-probability of at least this. Chosen on the calibration parts (the mean over the four sets of
# (correct + F1) / 2 on answerable questions, 49.0 for the design before; -0.3 gave 54.2, -1 53.1,
# -0.2 52.3, no floor 53.0): below it the phrase was as often a wrong part of the draft.
SPAN_MIN_LOGPROB = -0.3
# ... and only when it carries at least this share of what the draft adds to the question: a short
# phrase out of a long explanation ("autoimmune disease" from "dysregulation of the antibody
# response can lead to autoimmune disease") is not the answer. Chosen on the calibration parts
# after the COVID-QA test part lost correct answers to such phrases (61% -> 52%): the mean of
# (correct + F1) / 2 was 54.2 without it, 54.8 at 0.2, 54.7 at 0.5, 52.4 at 0.67; 0.5 kept the
# most correct answers of the two best (COVID-QA calibration 35% -> 44%, XQuAD 69% -> 74%).
MIN_DRAFT_SHARE = 0.5


def draft_sentence(draft: str) -> str:
    """The draft's first sentence without its markers: where the short phrase is copied from.

    >>> draft_sentence("The first Guidelines were formulated in 1978 [1]. They were revised.")
    'The first Guidelines were formulated in 1978.'
    """
    sentences = answer_sentences(draft)
    return parse_markers(sentences[0], 99)[0] if sentences else ""


def carries_draft(phrase: str, draft: str, question: str, terms) -> bool:
    """Whether the phrase holds at least MIN_DRAFT_SHARE of the content terms the draft adds to the question.

    >>> from rag.index.lexical import terms
    >>> carries_draft("1978", "The first Guidelines were formulated in 1978.", "When were the Guidelines formulated?", terms)
    True
    >>> carries_draft("autoimmune disease", "Dysregulation of the antibody response can lead to autoimmune disease.",
    ...               "What can go wrong?", terms)
    False
    """
    added = terms(draft) - terms(question)
    return not added or len(terms(phrase) & added) / len(added) >= MIN_DRAFT_SHARE


def from_copy(span: str, logprob: float, evidence: str, question: str) -> str:
    """A phrase the model copied out of its draft, kept when copied confidently and stated by the evidence.

    >>> from_copy("1978", -0.01, "The first Guidelines were formulated in 1978.", "When?")
    '1978'
    >>> from_copy("1978", -0.9, "The first Guidelines were formulated in 1978.", "When?")
    ''
    """
    return accept(span, evidence, question) if span and logprob >= SPAN_MIN_LOGPROB else ""
