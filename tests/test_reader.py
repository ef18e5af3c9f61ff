"""The sentence reader's data and training plumbing (issue 34): the data builder never takes a
test part's row, and a few training steps on a tiny encoder lower the loss."""
from __future__ import annotations

import pytest

from rag.errors import UserError


def test_the_reader_data_refuses_any_row_from_a_test_part():
    from eval.calibrate.parts import all_parts
    from eval.calibrate.reader_data import check_apart, part_texts

    questions, texts = part_texts("test")
    test_text = "\n".join(texts)
    own = {"source": "squad2_train_10", "id": "ok", "question": "Who wrote a made-up training question?",
           "title": "", "sentences": ["A sentence no test part holds, written for this test alone."], "gold": 0}
    check_apart([own], questions, test_text)  # an ordinary row passes
    test_part = next(p for p in all_parts() if p.dataset == "xquad" and p.role == "test")
    asked = dict(own, id="asked", question=test_part.questions[0]["question"])
    with pytest.raises(UserError, match="is in a test part"):
        check_apart([own, asked], questions, test_text)
    sentence = " ".join(next(iter(test_part.docs.values())).split("\n\n")[1].split(". ")[0].split()) + "."
    quoted = dict(own, id="quoted", sentences=[sentence[:-1]])
    with pytest.raises(UserError, match="quoted of squad2_train_10 is in a test part"):
        check_apart([quoted], questions, test_text)


def test_made_unanswerables_never_keep_the_answer_beside_the_swapped_term():
    import random

    from eval.calibrate.reader_data import Article, swapped

    article = Article.of("t", "Town", ["Anna Berg founded the mill in 1901. Carl Dahl sold it in 1950. "
                                       "Anna Berg lived in Ostby."])
    question = "When did Anna Berg found the mill?"
    made = swapped(question, "1901", article, random.Random(1))
    assert made is not None and made != question and "Anna Berg" not in made
    assert not any("1901" in s and made.split(" did ")[1].split(" found")[0] in s for s in article.sentences)


def test_a_few_training_steps_on_a_tiny_encoder_lower_the_loss(tmp_path):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from eval.calibrate.train_reader import batch_loss, examples, train
    from rag.answer.reader import base_encoder_folder, build_network

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(base_encoder_folder()))  # the bundled vocabulary, offline
    tiny = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=64, max_position_embeddings=128))
    network = build_network(tiny)
    rows = [{"question": f"When was the {thing} built?", "title": "Town", "answer": str(year),
             "sentences": [f"The {thing} was built in {year}.", "The river floods in spring.", "Nobody lives there."],
             "gold": 0, "answer_start": len(f"The {thing} was built in ")}
            for thing, year in (("mill", 1901), ("bridge", 1875), ("school", 1920), ("church", 1802))]
    rows += [{"question": "Who is the mayor?", "title": "Town", "sentences": ["The river floods in spring."],
              "gold": -1, "answer": "", "answer_start": -1}]
    pairs = examples(rows, negatives=1)
    assert len(pairs) == 4 * 2 + 1 and sum(p["start"] >= 0 for p in pairs) == 4
    with torch.no_grad():
        before = float(batch_loss(network, tokenizer, pairs))
    network, losses = train(pairs * 30, tmp_path / "run", base_encoder_folder(), batch=9, lr=3e-3,
                            checkpoint_every=100, progress=False, network=network, tokenizer=tokenizer)
    with torch.no_grad():
        after = float(batch_loss(network.eval(), tokenizer, pairs))
    assert after < 0.7 * before, (before, after, losses)
    assert (tmp_path / "run" / "checkpoint.pt").is_file()  # resumable


def test_the_training_targets_mark_the_answer_tokens_and_cls_for_null():
    from transformers import AutoTokenizer

    from eval.calibrate.train_reader import token_targets
    from rag.answer.reader import base_encoder_folder, encode

    tokenizer = AutoTokenizer.from_pretrained(str(base_encoder_folder()))
    sentence = "The Stockholm Convention was adopted in 1978 by forty states."
    chunk = [{"question": "When was it adopted?", "sentence": sentence, "start": sentence.index("1978"),
              "end": sentence.index("1978") + 4},
             {"question": "Who adopted it?", "sentence": sentence, "start": sentence.index("forty states"),
              "end": sentence.index("forty states") + len("forty states")},
             {"question": "When was it adopted?", "sentence": "Nobody knows.", "start": -1, "end": -1}]
    batch = encode(tokenizer, [e["question"] for e in chunk], [e["sentence"] for e in chunk])
    starts, ends = token_targets(batch, chunk)
    for row, example in enumerate(chunk[:2]):
        a, b = batch["offset_mapping"][row][starts[row]][0], batch["offset_mapping"][row][ends[row]][1]
        assert sentence[a:b] == sentence[example["start"]:example["end"]]
    assert (starts[2], ends[2]) == (0, 0)


def _tiny_reader():
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rag.answer.reader import SentenceReader, base_encoder_folder, build_network

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(base_encoder_folder()))
    tiny = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=64, max_position_embeddings=128))
    return SentenceReader(build_network(tiny).eval(), tokenizer, {})


def test_a_reader_in_the_pipeline_marks_the_short_answer_in_the_quote_and_records_its_margin(sample_retriever, embedder):
    """Plumbing, with an untrained tiny reader and the extractive answerer (no draft phrase): the
    quote is the formula's, the short answer (when the margin is positive) a piece of it, the
    margin a signal; without a reader nothing of it."""
    from rag import assemble
    from rag.settings import Settings

    settings = Settings(generator="extractive")
    pipeline = assemble.answer_pipeline(sample_retriever, assemble.load_generator(settings, embedder),
                                        assemble.answer_config(settings), decide=False)  # never refuse: the quote is read
    question = "When were the first Guidelines formulated?"
    plain = pipeline.ask(question)
    pipeline.reader = _tiny_reader()
    answer = pipeline.ask(question)
    assert [s.text for s in answer.sentences] == [s.text for s in plain.sentences]
    assert "reader_margin" in answer.signals and "reader_margin" not in plain.signals
    if answer.signals["reader_margin"] > 0:
        assert answer.short_answer and answer.short_answer in answer.sentences[0].text
    else:
        assert not answer.short_answer


def test_the_reader_setting_is_checked_and_a_missing_hub_reader_is_one_line(monkeypatch):
    from rag import assemble

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert assemble.load_reader("none") is None
    with pytest.raises(UserError, match="could not be loaded"):
        assemble.load_reader("no-such-owner/no-such-reader")
    with pytest.raises(UserError, match="no reader at"):
        assemble.load_reader("/no/such/reader.safetensors")


def test_a_reader_file_is_keyed_to_its_base_encoder_and_a_damaged_one_is_one_line(tmp_path):
    import json

    from rag.answer.reader import SentenceReader, base_encoder_sha256

    weights = tmp_path / "reader.safetensors"
    weights.write_bytes(b"not a safetensors file")
    weights.with_suffix(".json").write_text(json.dumps({"base_sha256": "0" * 64}), encoding="utf-8")
    with pytest.raises(UserError, match="trained from another encoder"):
        SentenceReader.load(weights)
    weights.with_suffix(".json").write_text(json.dumps({"base_sha256": base_encoder_sha256()}), encoding="utf-8")
    with pytest.raises(UserError, match="is unusable"):
        SentenceReader.load(weights)


def test_a_question_longer_than_the_reader_reads_is_cut_not_refused():
    reader = _tiny_reader()
    readings = reader.read("word " * 300 + "when?", ["It began in 1978.", "Nothing here."])
    assert len(readings) == 2 and all(isinstance(r.margin, float) for r in readings)
