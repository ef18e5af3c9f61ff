"""The answerability decision: the committed calibration loads, a broken one is a clear error."""
from __future__ import annotations

import json

import pytest

from rag.answer import answerability
from rag.answer.answerability import SIGNALS, Answerability
from rag.errors import UserError


@pytest.mark.parametrize("kind", ["model", "extractive", "model:qwen2.5-coder-1.5b-instruct-q4_k_m"])
def test_the_committed_calibration_loads_with_its_provenance(kind):
    decision = answerability.load(kind)
    assert set(decision.features) <= set(SIGNALS) and 0.0 < decision.threshold < 1.0
    provenance = json.loads(answerability.ANSWERABILITY_FILE.read_text())["provenance"]
    assert "calibration parts only" in provenance["by"]
    assert set(provenance[kind]["questions"]) == {"covidqa", "sample", "squad_cct", "xquad"}


def test_a_missing_calibration_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="is missing.*refit it with python -m eval.fit_answerability"):
        answerability.load("model", tmp_path / "absent.json")


@pytest.mark.parametrize("content", [
    "{not json",
    json.dumps({"calibrations": {}}),
    json.dumps({"calibrations": {"model": {"features": ["cosine"], "weights": [1, 2], "intercept": 0,
                                           "mean": [0], "scale": [1], "threshold": 0.5}}}),
    json.dumps({"calibrations": {"model": {"features": ["shoe size"], "weights": [1], "intercept": 0,
                                           "mean": [0], "scale": [1], "threshold": 0.5}}}),
    json.dumps({"calibrations": {"model": {"features": ["cosine"], "weights": [1], "intercept": 0,
                                           "mean": [0], "scale": [0], "threshold": 0.5}}}),
])
def test_a_damaged_calibration_is_a_clear_error(tmp_path, content):
    path = tmp_path / "answerability.json"
    path.write_text(content)
    with pytest.raises(UserError, match="is damaged"):
        answerability.load("model", path)


def test_probability_follows_the_weights():
    decision = Answerability(("cosine", "model_refused"), (2.0, -3.0), 0.0, (0.5, 0.0), (0.1, 1.0), 0.5)
    assert decision.probability({"cosine": 0.7}) > decision.probability({"cosine": 0.5}) > \
        decision.probability({"cosine": 0.5, "model_refused": 1.0})
    assert decision.probability({"cosine": 1e9}) == pytest.approx(1.0)


def test_a_veto_refuses_on_its_own_and_must_name_a_known_signal(tmp_path):
    decision = Answerability(("cosine",), (1.0,), 0.0, (0.0,), (1.0,), 0.5, vetoes=("type_missing",))
    assert decision.vetoed({"cosine": 0.9, "type_missing": 1.0}) == "type_missing"
    assert decision.vetoed({"cosine": 0.9, "type_missing": 0.0}) is None
    path = tmp_path / "answerability.json"
    path.write_text(json.dumps({"calibrations": {"model": {**decision.to_json(), "vetoes": ["moon phase"]}}}))
    with pytest.raises(UserError, match="is damaged"):
        answerability.load("model", path)


def test_a_bundled_model_with_its_own_calibration_gets_it_and_any_other_model_the_default_one(tmp_path):
    default = Answerability(("cosine",), (1.0,), 0.0, (0.0,), (1.0,), 0.3)
    larger = Answerability(("cosine",), (2.0,), 0.0, (0.0,), (1.0,), 0.6)
    path = tmp_path / "answerability.json"
    path.write_text(json.dumps({"calibrations": {"model": default.to_json(),
                                                 "model:qwen2.5-coder-1.5b-instruct-q4_k_m": larger.to_json()}}))
    assert answerability.load(answerability.kind_of("qwen2.5-coder-1.5b"), path) == larger
    assert answerability.load(answerability.kind_of("qwen2.5-coder-1.5b-instruct"), path) == larger
    assert answerability.load(answerability.kind_of("qwen2.5-coder-0.5b-instruct"), path) == default
    assert answerability.load(answerability.kind_of("/models/someone-elses.gguf"), path) == default
    path.write_text(json.dumps({"calibrations": {"model": default.to_json()}}))
    assert answerability.load(answerability.kind_of("qwen2.5-coder-1.5b"), path) == default
