"""The int8 cache rebuilds exactly the model it was written from, without float32 Linear weights."""
from __future__ import annotations

import pytest
import torch

from conftest import tiny_model_and_tokenizer
from rag.generate import quantization


def test_int8_cache_round_trip(tmp_path):
    model, tokenizer = tiny_model_and_tokenizer()
    ids = torch.tensor([[2, 5, 6, 7, 12, 13]])
    with torch.inference_mode():
        float_logits = model(ids).logits
    quantised = quantization.quantise(model)
    quantization.write_cache(quantised, tokenizer, tmp_path / "int8")
    assert (tmp_path / "int8" / "COMPLETE").is_file() and not (tmp_path / "int8.partial").exists()

    reloaded, reloaded_tokenizer = quantization.load_cache(tmp_path / "int8")
    float_linears = [name for name, m in reloaded.named_modules() if type(m) is torch.nn.Linear]
    assert float_linears == [f"model.layers.0.{name}" for name in
                             ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.down_proj")]
    assert not any(p.is_meta for p in reloaded.parameters())
    with torch.inference_mode():
        assert torch.equal(quantised(ids).logits, reloaded(ids).logits)
    # int8 is an approximation of float32, not a different model
    assert torch.allclose(float_logits, reloaded(ids).logits, atol=0.05)
    out = reloaded.generate(ids, max_new_tokens=3, min_new_tokens=3, do_sample=False, pad_token_id=1)
    assert out.shape[1] == ids.shape[1] + 3
    assert reloaded_tokenizer.convert_ids_to_tokens([12]) == ["1978"]


def test_a_cache_missing_tensors_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    model, tokenizer = tiny_model_and_tokenizer()
    quantization.write_cache(quantization.quantise(model), tokenizer, tmp_path / "int8")
    tensors = load_file(str(tmp_path / "int8" / "model-int8.safetensors"))
    del tensors["model.norm.weight"]
    save_file(tensors, str(tmp_path / "int8" / "model-int8.safetensors"))
    with pytest.raises(ValueError, match="lacks"):
        quantization.load_cache(tmp_path / "int8")


def test_a_cut_cache_weights_file_is_removed_with_one_warning_not_a_traceback(tmp_path):
    from rag.generate.transformers_load import _int8_cache

    model, tokenizer = tiny_model_and_tokenizer()
    cache = tmp_path / "int8"
    quantization.write_cache(quantization.quantise(model), tokenizer, cache)
    weights = cache / "model-int8.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # a disk that filled, a copy cut short
    said = []
    assert _int8_cache(cache, said.append) is None
    assert not cache.exists() and len(said) == 1 and "damaged" in said[0]


def test_two_processes_prepare_the_default_model_at_once_on_an_empty_cache(tmp_path, sample_index, monkeypatch):
    """The app and a CLI command started in the same minute: one prepares, the other waits for it;
    both answer, and the cache is complete with nothing half-written left beside it."""
    import os
    import subprocess
    import sys

    from rag.generate import model_files, quantization

    cache = tmp_path / "models"
    env = {**os.environ, "RAG_MODEL_CACHE": str(cache)}
    ask = [sys.executable, "-m", "rag", "ask", "When were the first Guidelines formulated?", "--index", str(sample_index)]
    runs = [subprocess.Popen(ask, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=1200) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0 and "1978" in out, err[-2000:]
    assert sum("another process is preparing the model" in err for _, err in outputs) == 1
    sha = model_files.QWEN_0_5B.sha256
    int8 = model_files.quantised_cache(sha, quantization.SCHEME).name
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == sorted(
        [model_files.weights_cache(sha).name, int8])  # no .partial, no .old, the assembled GGUF discarded
    monkeypatch.setenv("RAG_MODEL_CACHE", str(cache))
    model, _ = quantization.load_cache(model_files.quantised_cache(sha, quantization.SCHEME))
    assert sum(p.numel() for p in model.parameters()) > 0
