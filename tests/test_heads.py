"""The heads on the reader's hidden states: features from the answer's own prefill, keyed to one model."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import tiny_model_and_tokenizer
from eval.calibrate.states import prefill_states, prefill_token_states
from rag.answer import heads
from rag.errors import UserError
from rag.generate.base import GeneratorConfig, Prompt
from rag.generate.transformers_lm import TransformersGenerator

MESSAGES = ({"role": "system", "content": "the documents"}, {"role": "user", "content": "guidelines were formulated in"})


def tiny_generator() -> TransformersGenerator:
    model, tokenizer = tiny_model_and_tokenizer()
    return TransformersGenerator(model, tokenizer, "tiny", GeneratorConfig(max_new_tokens=3), states_key="tiny:int8")


def test_the_states_a_stream_records_are_its_prefills_and_cost_no_second_pass():
    generator = tiny_generator()
    calls = []
    forward = generator.model.forward
    generator.model.forward = lambda *a, **k: calls.append(k.get("input_ids", a[0] if a else None).shape) or forward(*a, **k)
    prompt = Prompt(MESSAGES, "q", state_layers=(0, 1))
    list(generator.stream(prompt))
    prompt_length = generator.tokenizer(generator.render(MESSAGES), return_tensors="pt")["input_ids"].shape[1]
    assert sum(shape[1] == prompt_length for shape in calls) == 1  # one prefill; the rest are decoding steps
    del generator.model.forward
    recorded, direct = prompt.trace["last_token_states"], prefill_states(generator, MESSAGES, (0, 1))
    assert set(recorded) == {0, 1} and recorded[1].shape == (16,)
    for layer in (0, 1):
        np.testing.assert_allclose(recorded[layer], direct[layer], atol=1e-5)


def test_no_states_are_kept_unless_asked():
    prompt = Prompt(MESSAGES, "q")
    list(tiny_generator().stream(prompt))
    assert "last_token_states" not in prompt.trace


def head_file(tmp_path, key="tiny:int8", **changes):
    head = heads.AnswerabilityHead(key, 1, np.zeros(16), np.ones(16), np.full(16, 0.1), -0.2, 0.25)
    data = {**head.to_json({"test": True}), **changes}
    path = tmp_path / "head.json"
    path.write_text(json.dumps(data))
    return path


def test_a_head_refuses_to_load_for_another_models_states(tmp_path):
    path = head_file(tmp_path, key="aaaa:int8")
    assert heads.load_answerability_head("aaaa:int8", path).layer == 1
    with pytest.raises(UserError, match="trained for another model's states"):
        heads.load_answerability_head("bbbb:int8", path)


def test_a_damaged_head_is_a_clear_error_and_a_missing_one_means_no_head(tmp_path):
    with pytest.raises(UserError, match="is damaged"):
        heads.load_answerability_head("tiny:int8", head_file(tmp_path, weights=[1.0, 2.0]))
    assert heads.load_answerability_head("tiny:int8", tmp_path / "none.json") is None
    assert heads.load_answerability_head(None) is None


def test_the_heads_probability_is_the_logistic_of_its_weights(tmp_path):
    head = heads.load_answerability_head("tiny:int8", head_file(tmp_path))
    states = {1: np.full(16, 0.5)}
    z = -0.2 + 16 * 0.05
    assert head.logit(states) == pytest.approx(z)
    assert head.probability(states) == pytest.approx(1 / (1 + np.exp(-z)))
    with pytest.raises(UserError, match="is damaged"):  # a veto that is not a probability
        heads.load_answerability_head("tiny:int8", head_file(tmp_path, veto_below=1.5))


def test_the_committed_heads_match_their_bundled_models():
    from rag.generate import model_files

    files = sorted(heads.HEADS_DIR.glob("answerability-*.json"))
    assert files, "no trained head is committed"
    for path in files:
        data = json.loads(path.read_text())
        sha, _, precision = data["states_key"].partition(":")
        assert any(m.sha256 == sha for m in model_files.BUNDLED.values()) and precision in ("int8", "float32")
        assert heads.head_path(data["states_key"]) == path
        provenance = data["provenance"]
        assert {"commit", "layer_choice", "data_sha256", "out_of_fold_auc", "veto_rule",
                "decision_out_of_fold_auc", "leave_one_article_out_auc"} <= set(provenance)
        assert 0 < heads.load_answerability_head(data["states_key"], path).veto_below < 0.5


def test_token_states_cover_every_prompt_token_and_map_back_to_its_text():
    generator = tiny_generator()
    got = prefill_token_states(generator, MESSAGES, (1,))
    assert got["states"][1].shape[0] == len(got["offsets"]) and got["states"][1].shape[1] == 16
    np.testing.assert_allclose(got["states"][1][-1].astype(np.float32), got["last"][1], atol=1e-2)
    np.testing.assert_allclose(got["last"][1], prefill_states(generator, MESSAGES, (1,))[1], atol=1e-5)
    at = got["text"].find("formulated")
    inside = [i for i, (a, b) in enumerate(got["offsets"].tolist()) if a >= at and b <= at + len("formulated")]
    assert inside and "".join(got["text"][a:b] for a, b in got["offsets"][inside].tolist()).strip() == "formulated"


def test_a_capped_training_part_keeps_a_seeded_share_of_both_labels_per_article():
    from eval.calibrate.head_data import capped

    rows = [{"id": f"{a}{i}", "article": a, "answers": ["x"] if i % 3 else []} for a in "AB" for i in range(30)]
    kept = capped(rows, 4)
    for article in "AB":
        mine = [r for r in kept if r["article"] == article]
        assert sum(bool(r["answers"]) for r in mine) == 4 and sum(not r["answers"] for r in mine) == 4
    assert capped(rows, 4) == kept and capped(rows, None) == rows


def test_the_training_commands_refuse_bad_counts_in_one_line(capsys):
    from eval.calibrate import train_heads

    for main, argv in ((train_heads.main, ["out", "--squad-per-article", "-3"]),
                       (train_heads.main, ["out", "--layers", "0"])):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        assert "Traceback" not in capsys.readouterr().err


def test_layers_a_model_lacks_are_one_line():
    from eval.calibrate.head_data import checked_layers

    generator = tiny_generator()
    count = generator.model.config.num_hidden_layers
    assert checked_layers(generator, [1, count]) == (1, count)
    with pytest.raises(UserError, match=f"layers 1 to {count}"):
        checked_layers(generator, [count + 1])
