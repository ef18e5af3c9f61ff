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
