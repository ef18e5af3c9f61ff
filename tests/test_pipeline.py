"""The answer pipeline end to end with the extractive answerer and a tiny random transformers model."""
from __future__ import annotations

import json

import pytest

from rag.answer.decision import REFUSAL_ANSWER
from rag.answer.pipeline import AnswerConfig, AnswerPipeline
from rag.assemble import answer_pipeline
from rag.records import Final, Token
from rag.assemble import load_generator
from rag.errors import UserError
from rag.generate.base import GeneratorConfig, Prompt
from rag.generate.transformers_lm import TransformersGenerator
from rag.settings import Settings

@pytest.fixture(scope="module")
def tiny_generator():
    from conftest import tiny_model_and_tokenizer

    model, tokenizer = tiny_model_and_tokenizer()
    return TransformersGenerator(model, tokenizer, "tiny-random", GeneratorConfig(max_new_tokens=6))


def test_tiny_model_streams_pieces(tiny_generator):
    prompt = Prompt(({"role": "user", "content": "guidelines formulated in 1978 ."},), "q")
    pieces = list(tiny_generator.stream(prompt))
    assert 1 <= len(pieces) <= 6 and all(isinstance(p, str) for p in pieces)
    assert tiny_generator.count_prompt_tokens(prompt.messages) > 5


def test_tiny_model_through_the_pipeline(sample_retriever, tiny_generator):
    pipeline = answer_pipeline(sample_retriever, tiny_generator, AnswerConfig(max_new_tokens=6, max_prompt_tokens=400))
    events = list(pipeline.stream("When were the first Guidelines formulated?"))
    assert isinstance(events[-1], Final)
    answer = events[-1].answer
    assert answer.raw == "".join(e.text for e in events if isinstance(e, Token))
    assert answer.timings["total_s"] >= answer.timings["first_token_s"] > 0
    # Whatever the random words, the answer is either a refusal citing nothing or cites given passages.
    assert answer.refused == (answer.cited == []) == (answer.text == REFUSAL_ANSWER)
    assert all(1 <= c.n <= 4 and f"[{c.n}]" in answer.text for c in answer.cited)
    data = answer.to_json()
    assert set(data) >= {"question", "answer", "refused", "citations", "sentences", "retrieved", "model", "timings"}
    assert set(data["timings"]) >= {"retrieve_s", "generate_s", "first_token_s", "total_s"}
    json.dumps(data)


def test_prompt_is_fitted_to_a_small_context(sample_retriever, tiny_generator):
    pipeline = answer_pipeline(sample_retriever, tiny_generator, AnswerConfig(max_new_tokens=6, max_prompt_tokens=150))
    question = "When were the first Guidelines formulated?"
    passages = sample_retriever.search(question, k=4)
    fitted = pipeline.prepare(question, k=4).fitted
    assert [p.chunk.chunk_id for p in passages] [:len(fitted.passages)] == [p.chunk.chunk_id for p in fitted.passages]
    assert fitted.tokens <= 150 and 1 <= len(fitted.passages) < 4


def test_generator_errors_surface(tiny_generator, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tiny_generator.model, "generate", broken)
    with pytest.raises(RuntimeError, match="boom"):
        list(tiny_generator.stream(Prompt(({"role": "user", "content": "1978"},), "q")))


@pytest.fixture(scope="module")
def extractive_pipeline(sample_retriever):
    generator = load_generator(Settings(generator="extractive"), sample_retriever.embedder)
    return answer_pipeline(sample_retriever, generator)


def test_extractive_answers_with_the_right_section(extractive_pipeline):
    answer = extractive_pipeline.ask("Which article of the treaty obliges Japan and the U.S. to act together if Japan is attacked?")
    assert not answer.refused and "Article 5" in answer.text
    assert answer.cited[0].passage.chunk.section[-1] == "1 Maintenance of Japan's Peace and Security"
    assert answer.text.endswith(f"[{answer.cited[0].n}].")
    assert all(s.supported for s in answer.sentences)


def test_extractive_refuses_what_the_document_does_not_cover(extractive_pipeline):
    answer = extractive_pipeline.ask("What is the capital of Australia?")
    assert answer.refused and answer.text == REFUSAL_ANSWER and answer.cited == []
    assert "do not appear to answer it" in answer.refusal_reason


def test_extractive_is_deterministic(extractive_pipeline):
    first = extractive_pipeline.ask("What does the alliance function as?")
    second = extractive_pipeline.ask("What does the alliance function as?")
    assert first.text == second.text


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_an_error(extractive_pipeline, question):
    with pytest.raises(UserError, match="empty"):
        extractive_pipeline.ask(question)


def test_a_question_asking_for_a_year_reads_whether_the_answer_has_one(tmp_path, embedder):
    """Typed questions: the closest sentence is not an answer if it lacks what the question asks for.
    That is one signal of the decision; a decision that weighs only it shows it at work."""
    from rag.answer.decision import Answerability, Decision
    from rag.index.indexer import build_index
    from rag.index.retrieval import Retriever

    (tmp_path / "treaty.md").write_text(
        "# The Treaty\n\nThe Security Treaty is the cornerstone of the alliance between the two countries. "
        "The treaty has three annexes and was revised in 1960 after long talks.\n", encoding="utf-8")
    build_index([tmp_path / "treaty.md"], tmp_path / "index", embedder, progress=False)
    retriever = Retriever.open(tmp_path / "index", embedder)
    type_only = Answerability(("type_missing",), (-5.0,), 0.0, (0.0,), (1.0,), 0.5)
    pipeline = AnswerPipeline(retriever, load_generator(Settings(generator="extractive"), embedder), Decision(type_only))

    untyped = pipeline.ask("What is the cornerstone of the alliance?")
    assert not untyped.refused and "cornerstone" in untyped.text and untyped.signals["type_missing"] == 0
    typed = pipeline.ask("In which year was the cornerstone of the alliance signed?")
    assert typed.refused and typed.signals["type_missing"] == 1, typed.text
    # what the refusal withheld is kept for --json and the funnel: the sentence read, and where
    assert "cornerstone" in typed.withheld["sentence"] and typed.withheld["source"].endswith("treaty.md")
    assert typed.to_json()["withheld"] == typed.withheld and untyped.withheld == {}
    counted = pipeline.ask("How many annexes does the treaty have?")
    assert not counted.refused and "three annexes" in counted.text and counted.signals["type_missing"] == 0


def test_a_copied_span_is_words_of_its_source_whatever_the_model(tiny_generator):
    """A random model's choice is arbitrary, but decoding may only copy whole words of the source,
    and reusing the fixed messages' cache must not change the choice."""
    from rag.answer.short_answer import SPAN_FIXED, span_messages

    sources = ["the guidelines were formulated in 1978 .", "1978 . the documents do not say",
               "guidelines [ 1 ] were not formulated"]
    copied = []
    for source in sources:
        for question in ("the guidelines ?", "in 1978 ?"):
            span, logprob = tiny_generator.copy_span(span_messages(question, source), source)
            cached = tiny_generator.copy_span(span_messages(question, source), source, fixed=SPAN_FIXED)
            assert cached[0] == span
            if span:
                copied.append(span)
                assert f" {span} " in f" {source} " and logprob <= 0
    assert copied, "the tiny model copied nothing from any source"


def one_token_at_a_time(generator, messages, source: str, max_tokens: int = 32) -> tuple[str, float]:
    """The copying pass as it was before the one-pass check: a forward pass per copied token."""
    import torch

    from rag.generate.copy_span import SpanSource

    src = SpanSource.of(source)
    ids = generator.tokenizer(generator.render(messages), return_tensors="pt", add_special_tokens=False)["input_ids"]
    state, logprobs, past = None, [], None
    with torch.inference_mode():
        for _ in range(max_tokens):
            out = generator.model(input_ids=ids, cache=past, use_cache=True, logits_to_keep=1)
            past, scores = out.cache, torch.log_softmax(out.logits[0, -1].float(), dim=-1)
            best, after = generator._copy_choice(scores, src, state, 64)
            if best is None:
                break
            state = after
            logprobs.append(float(scores[best]))
            ids = torch.tensor([[best]])
    span = src.text_of(state)
    return (span, sum(logprobs) / len(logprobs)) if span else ("", 0.0)


def test_the_one_pass_copy_chooses_what_token_by_token_decoding_chooses(tiny_generator):
    """The source's next words are checked in one pass; the span and its log-probability must be
    those of decoding one token per pass, including where the model leaves the source's words."""
    import pytest

    from rag.answer.short_answer import SPAN_FIXED, span_messages

    sources = ["the guidelines were formulated in 1978 .", "1978 . the documents do not say",
               "guidelines [ 1 ] were not formulated", "the documents say the guidelines were formulated in 1978 "
               "the guidelines were not formulated in 1 2"]
    compared = 0
    for source in sources:
        for question in ("the guidelines ?", "in 1978 ?", "were the documents formulated ?"):
            for max_tokens in (2, 32):
                messages = span_messages(question, source)
                expected = one_token_at_a_time(tiny_generator, messages, source, max_tokens)
                span, logprob = tiny_generator.copy_span(messages, source, fixed=SPAN_FIXED, max_tokens=max_tokens)
                assert span == expected[0] and logprob == pytest.approx(expected[1], abs=1e-4), (source, question)
                compared += bool(span)
    assert compared >= 6, "too few spans copied to compare"


def test_a_quote_from_merged_table_rows_is_one_row(tmp_path, embedder):
    """Short paragraphs (table rows, list items out of a PDF) are merged into one chunk; the quote
    is one of them, not the run of rows up to the next full stop."""
    from rag.answer.decision import Answerability, Decision
    from rag.index.indexer import build_index
    from rag.index.retrieval import Retriever

    (tmp_path / "plan.md").write_text(
        "# Performance targets\n\n| Measure | Target |\n\n| Staff hired | 1,200 people |\n\n"
        "| Annual budget | 350 million dollars |\n\nThe agency reports these targets to the Congress every year.\n",
        encoding="utf-8")
    build_index([tmp_path / "plan.md"], tmp_path / "index", embedder, progress=False)
    retriever = Retriever.open(tmp_path / "index", embedder)
    assert any("\n" in chunk.text for chunk in retriever.index.chunks), "the rows were not merged: the test no longer tests the merge"
    always = Answerability(("type_missing",), (0.0,), 0.0, (0.0,), (1.0,), 0.0)
    pipeline = AnswerPipeline(retriever, load_generator(Settings(generator="extractive"), embedder), Decision(always))

    answer = pipeline.ask("What is the annual budget?")
    quote = " ".join(s.text for s in answer.sentences)
    assert "350 million" in quote and "Staff" not in quote and "Congress" not in quote, quote


def test_the_vector_cache_embeds_each_text_once_and_keeps_a_calls_own_texts():
    import numpy as np

    from embeddings.cache import VectorCache

    calls = []

    def embed(texts):
        calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    cache = VectorCache(embed, size=2)
    first = cache(["a", "bb", "a"])
    assert calls == [["a", "bb"]] and first.tolist() == [[1, 1], [2, 1], [1, 1]]
    assert cache(["bb", "ccc"]).tolist() == [[2, 1], [3, 1]] and calls[-1] == ["ccc"]
    assert cache(["a"]).tolist() == [[1, 1]] and calls[-1] == ["a"]  # evicted past the size, embedded again
    assert cache(["a", "bb", "ccc", "dddd"]).shape == (4, 2)  # a call larger than the cache still answers
