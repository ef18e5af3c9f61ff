"""Citation markers, support scores, prompt fitting, refusal words: pure logic, no model."""
from __future__ import annotations

import numpy as np
import pytest

from rag.render import render_answer
from rag.answer.grounding import (SUPPORT_THRESHOLD, SentenceSupport, answer_sentences, attribute, ground_answer,
                           lexical_support, parse_markers)
from rag.answer.prompting import build_messages, fit_prompt
from rag.records import Chunk, Passage
from rag.answer.refusal import model_refused


@pytest.mark.parametrize("sentence, count, clean, cited", [
    ("Formed in 1978 [1].", 3, "Formed in 1978.", [1]),
    ("Formed in 1978 [1][2].", 3, "Formed in 1978.", [1, 2]),
    ("Formed in 1978 [1, 3].", 3, "Formed in 1978.", [1, 3]),
    ("Formed in 1978 [Passage 2].", 3, "Formed in 1978.", [2]),
    ("Formed in 1978 [source 2; 3].", 3, "Formed in 1978.", [2, 3]),
    ("Formed in 1978 [1-3].", 3, "Formed in 1978.", [1, 2, 3]),
    ("Formed in 1978【2】.", 3, "Formed in 1978.", [2]),
    ("Formed in 1978 [^2].", 3, "Formed in 1978.", [2]),
    ("Formed in 1978 [7].", 3, "Formed in 1978.", []),  # names a passage that was not given
    ("Formed in 1978 [0].", 3, "Formed in 1978.", []),
    ("Formed in 1978.", 3, "Formed in 1978.", []),  # no marker at all
])
def test_parse_markers(sentence, count, clean, cited):
    assert parse_markers(sentence, count) == (clean, cited)


def test_answer_sentences_keep_markers_with_their_sentence():
    assert answer_sentences("It began in 1978. [1] It was revised in 1997 [2]. [3]") == [
        "It began in 1978 [1].", "It was revised in 1997 [2] [3]."]
    assert answer_sentences("[1]") == []  # a reply of nothing but a marker has no sentence


def _terms(text: str) -> set[str]:
    from rag.index.lexical import terms

    return terms(text)


def _fake_embed(texts):
    """Bag-of-terms vectors: enough to exercise the arithmetic without a model."""
    vocab = sorted({t for text in texts for t in _terms(text)})
    rows = np.array([[1.0 if v in _terms(text) else 0.0 for v in vocab] for text in texts]) + 1e-9
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


PASSAGES = [
    ["The 1978 Guidelines were formulated during the Cold War.", "They focused on an armed attack on Japan."],
    ["Okinawa hosts many U.S. bases.", "Local residents are affected."],
]


def test_unmarked_sentences_are_attributed_to_the_supporting_passage():
    grounded = ground_answer("The first Guidelines were formulated in 1978.", "When were the Guidelines formulated?",
                             PASSAGES, _terms, _fake_embed)
    assert [(s.citations, s.supported) for s in grounded] == [([1], True)]


def test_a_garbled_marker_is_corrected_and_a_wrong_one_dropped():
    grounded = ground_answer("Okinawa hosts many U.S. bases [1].", "Where are bases?", PASSAGES, _terms,
                             _fake_embed)
    assert grounded[0].given == [1] and grounded[0].citations == [2]


def test_an_invented_fact_is_unsupported():
    grounded = ground_answer("The Secretary of Defense was John Doe.", "Who was the Secretary of Defense?",
                             PASSAGES, _terms, _fake_embed)
    assert grounded[0].supported is False and grounded[0].citations == []
    assert grounded[0].support < SUPPORT_THRESHOLD


def test_lexical_support_counts_only_what_the_answer_adds():
    question = {"guidelin", "formul"}
    assert lexical_support({"guidelin", "formul", "1978"}, question, {"1978"}) == 1.0
    assert lexical_support({"guidelin", "formul", "1997"}, question, {"1978"}) == 0.0


def test_attribute_prefers_valid_model_markers_that_the_passage_supports():
    support = np.array([[0.9, 0.7], [0.2, 0.1]])
    out = attribute(["A.", "B."], support, [[2], []])
    assert (out[0].citations, out[0].supported) == ([2], True)
    assert (out[1].citations, out[1].supported) == ([], False)


def test_render_answer_puts_markers_before_the_full_stop():
    sentences = [SentenceSupport("Formed in 1978.", [1], 0.9, True), SentenceSupport("Unsure claim.", [], 0.1, False)]
    assert render_answer(sentences) == "Formed in 1978 [1]. Unsure claim."


def _passage(n: int, text: str) -> Passage:
    chunk = Chunk(f"id{n}", "doc.md", ("Chapter", f"Part {n}"), text, 0, len(text))
    return Passage(chunk, 1.0 / n, n)


def _count(messages) -> int:
    return sum(len(m["content"].split()) for m in messages)


def test_prompt_numbers_passages_with_their_sections():
    messages = build_messages("Why?", [_passage(1, "First."), _passage(2, "Second.")], ["First.", "Second."])
    user = messages[-1]["content"]
    assert "[1] (Part 1)\nFirst." in user and "[2] (Part 2)\nSecond." in user and user.endswith("Question: Why?")
    assert "passages" in messages[0]["content"].lower()


def test_a_question_first_prompt_states_the_question_before_the_passages_and_last():
    passages = [_passage(1, "First."), _passage(2, "Second.")]
    user = build_messages("Why?", passages, ["First.", "Second."], question_first=True)[-1]["content"]
    assert user.startswith("Question: Why?") and user.endswith("Question: Why?")
    assert user.index("Why?") < user.index("First.") < user.index("Second.") < user.rindex("Why?")
    assert build_messages("Why?", [], [], question_first=True) == build_messages("Why?", [], [])
    one = _count(build_messages("Why?", passages[:1], ["First."], question_first=True))
    assert one > _count(build_messages("Why?", passages[:1], ["First."]))
    fitted = fit_prompt("Why?", passages, _count, budget=one + 1, question_first=True)
    assert fitted.passages == (passages[0],) and fitted.tokens == one  # the repeated question is counted
    assert fitted.messages[-1]["content"].startswith("Question: Why?")


def test_fit_prompt_drops_lowest_ranked_passages_first():
    passages = [_passage(i, f"Sentence {i} one. Sentence {i} two.") for i in range(1, 6)]
    full = _count(build_messages("Why?", passages, [p.chunk.text for p in passages]))
    fitted = fit_prompt("Why?", passages, _count, budget=full - 5)
    assert [p.rank for p in fitted.passages] == [1, 2, 3, 4]
    assert fitted.tokens <= full - 5


def test_fit_prompt_trims_a_lone_passage_at_sentence_boundaries():
    long = _passage(1, " ".join(f"Sentence number {i} ends here." for i in range(50)))
    base = _count(build_messages("Why?", [], []))
    fitted = fit_prompt("Why?", [long], _count, budget=base + 40)
    assert len(fitted.passages) == 1
    assert fitted.texts[0].endswith("ends here.") and fitted.texts[0] in long.chunk.text
    assert fitted.tokens <= base + 40


def test_fit_prompt_truncates_an_overlong_question():
    base = _count(build_messages("x", [], []))
    fitted = fit_prompt("word " * 500, [_passage(1, "Short.")], _count, budget=base + 50)
    assert fitted.question_truncated and fitted.tokens <= base + 50


@pytest.mark.parametrize("text, refused", [
    ("The documents do not say.", True),
    ("The passages do not mention the Secretary.", True),
    ("This is not mentioned in the passages.", True),
    ("There is no information about that.", True),
    ("I cannot answer that from the text.", True),
    ("The first Guidelines were formulated in 1978.", False),
    ("Japan and the U.S. will take bilateral action.", False),
])
def test_model_refusal_phrases(text, refused):
    assert model_refused(text) is refused
