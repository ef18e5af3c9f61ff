"""Dynamic int8 Linear layers for CPU inference, and an on-disk cache of the quantised model.

Quantising the float32 model at every start costs ~12 s and holds both copies in memory
(a 6 GB peak for the 0.5B model). The cache keeps each quantised Linear's int8 weight with its
per-channel scales and zero points, and every other parameter as it is, in one safetensors file:
later starts build the model on an empty skeleton and never load the quantised layers in float32.
"""
from __future__ import annotations

import hashlib
from pathlib import Path


# Layers kept in float32. Measured on the sample set (46 questions, eval/configs/fast-int8.toml):
# every Linear in int8 changed 6 answers (4 for the worse); keeping down_proj float, whose inputs
# carry LLMs' large activation outliers (Sun et al., "Massive Activations in Large Language
# Models", 2024), still lost 2; keeping the attention projections float as well gave the float32
# answers on all 46 questions, with the MLP's gate/up projections and the vocabulary projection
# (most of the weights) in int8.
FLOAT_LAYERS = ("down_proj", "q_proj", "k_proj", "v_proj", "o_proj")
# Names the cache after the scheme: a cache made with other float layers is not reused.
SCHEME = "int8-" + hashlib.sha256(",".join(FLOAT_LAYERS).encode()).hexdigest()[:8]


def quantise(model, keep_float: tuple[str, ...] = FLOAT_LAYERS):
    """int8 weights with one scale per output channel, activations quantised on the fly; changes `model`."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig

    spec = {name: per_channel_dynamic_qconfig for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] not in keep_float}
    # in place: a copy would hold a second float32 model in memory (5.8 GB at the first start)
    return torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)


def _quantised_linears(model):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return [(name, module) for name, module in model.named_modules() if isinstance(module, DynamicLinear)]


def quantised_tensors(model) -> dict:
    """Flat tensors that rebuild `model`: int8 weights, scales, zero points, and all float parameters."""
    import torch

    tensors = {}
    for name, module in _quantised_linears(model):
        weight, bias = module._weight_bias()
        tensors[f"{name}.int8_weight"] = weight.int_repr().contiguous()
        tensors[f"{name}.scale"] = weight.q_per_channel_scales().contiguous()
        tensors[f"{name}.zero_point"] = weight.q_per_channel_zero_points().contiguous()
        tensors[f"{name}.axis"] = torch.tensor(weight.q_per_channel_axis(), dtype=torch.int64)
        if bias is not None:
            tensors[f"{name}.bias"] = bias.detach().contiguous()
    for name, parameter in model.named_parameters():
        tensors[name] = parameter.detach().contiguous()
    return tensors


def write_cache(model, tokenizer, folder: Path) -> None:
    from safetensors.torch import save_file

    from rag.generate.model_files import publish_cache

    publish_cache(folder, model, tokenizer, lambda staging: save_file(
        quantised_tensors(model), str(staging / "model-int8.safetensors"), metadata={"format": "rag-int8-dynamic"}))


def load_cache(folder: Path):
    """The int8 model and its tokenizer from `write_cache`'s folder, never loading the quantised layers in float32."""
    import torch
    from accelerate import init_empty_weights
    from safetensors.torch import load_file
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    with init_empty_weights(include_buffers=False):  # parameters on "meta": no memory, no random init
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    tensors = load_file(str(folder / "model-int8.safetensors"))
    for name, module in list(model.named_modules()):
        if not isinstance(module, torch.nn.Linear) or f"{name}.int8_weight" not in tensors:
            continue
        quantised = DynamicLinear(module.in_features, module.out_features, bias_=module.bias is not None,
                                  dtype=torch.qint8)
        values, scales, zero_points, axis = (tensors.pop(f"{name}.{part}")
                                             for part in ("int8_weight", "scale", "zero_point", "axis"))
        weight = torch._make_per_channel_quantized_tensor(values, scales, zero_points, int(axis))
        quantised.set_weight_bias(weight, tensors.pop(f"{name}.bias", None))
        model.set_submodule(name, quantised)
    missing = {n for n, p in model.named_parameters() if p.is_meta} - set(tensors)
    if missing:
        raise ValueError(f"int8 cache lacks {len(missing)} tensors, e.g. {sorted(missing)[0]}")
    for name, tensor in tensors.items():  # the float parameters (embeddings, norms), assigned in place of "meta"
        owner, _, attribute = name.rpartition(".")
        setattr(model.get_submodule(owner), attribute, torch.nn.Parameter(tensor, requires_grad=False))
    if (folder / "generation_config.json").is_file():
        model.generation_config = GenerationConfig.from_pretrained(str(folder))
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return model.eval(), tokenizer
