"""The short answer: taken from the model's draft, shown only when the quoted sentence states it."""
from __future__ import annotations

import pytest

from rag.answer.short_answer import accept, candidate, normalise
from rag.index.lexical import terms

EVIDENCE = "The first Guidelines were formulated in 1978, at the height of the Cold War."
QUESTION = "When were the first Guidelines formulated?"


@pytest.mark.parametrize("draft, expected", [
    ("1978 [1].", "1978"),
    ("In 1978.", "In 1978"),
    ("A function problem", "A function problem"),
    ("The first Guidelines were formulated in 1978 [1].", ""),  # a sentence: the quote answers
])
def test_the_product_keeps_phrases_and_never_cuts_sentences(draft, expected):
    assert candidate(draft) == expected


def test_a_supported_draft_is_accepted():
    assert accept("1978", EVIDENCE, QUESTION) == "1978"
    assert accept("the Cold War", EVIDENCE, "During what was it formulated?") == "the Cold War"


@pytest.mark.parametrize("phrase, why", [
    ("1979", "the evidence does not state it"),
    ("197", "only part of a word in the evidence"),
    ("first Guidelines", "it only repeats the question"),
    ("in 1978 at the height of the Cold War when the two countries were " * 2, "too long to be short"),
    ("", "empty"),
])
def test_an_unsupported_draft_is_refused(phrase, why):
    assert accept(phrase, EVIDENCE, QUESTION) == "", why


def test_normalisation_ignores_case_punctuation_and_articles():
    assert accept("the U.S.-Japan treaty", "Under the U.S. Japan Treaty, both act.", "Under what do both act?")
    assert normalise("The  Treaty's") == "treaty s"


def test_a_phrase_copied_from_the_draft_needs_confidence_and_the_evidence():
    from rag.answer.short_answer import SPAN_MIN_LOGPROB, from_copy

    assert from_copy("1978", SPAN_MIN_LOGPROB, EVIDENCE, QUESTION) == "1978"
    assert from_copy("1978", SPAN_MIN_LOGPROB - 0.01, EVIDENCE, QUESTION) == "", "copied without confidence"
    assert from_copy("1979", -0.01, EVIDENCE, QUESTION) == "", "confident but not what the quote says"
    assert from_copy("first Guidelines", -0.01, EVIDENCE, QUESTION) == "", "only the question's words"
    assert from_copy("", 0.0, EVIDENCE, QUESTION) == ""


def test_the_phrase_is_copied_from_the_drafts_first_sentence_without_markers():
    from rag.answer.short_answer import draft_sentence

    assert draft_sentence("In 1978 [2]. Later revised [1].") == "In 1978."
    assert draft_sentence("[1]") == ""


def test_a_copied_phrase_is_shown_only_when_it_carries_what_the_draft_adds():
    from rag.answer.short_answer import carries_draft

    draft = "The first Guidelines were formulated in 1978 to deter an invasion."
    assert carries_draft("1978 to deter an invasion", draft, QUESTION, terms)
    assert not carries_draft("an invasion", draft, QUESTION, terms), "one of the three terms the draft adds"
    assert carries_draft("anything", "The first Guidelines were formulated.", QUESTION, terms), "draft adds nothing"
