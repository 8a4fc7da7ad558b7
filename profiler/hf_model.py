"""A Llama model with random bf16 weights for engine replays, and the run's environment facts.

Only shapes matter for timing, so weights are random (no download). End-of-sequence is disabled
so every request generates exactly its requested number of tokens. Imports torch/transformers.
"""
from __future__ import annotations

import numpy as np
import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

from batchsim.simulator.models import ModelSpec


def llama_config(spec: ModelSpec) -> LlamaConfig:
    """A LlamaConfig of the spec's shape with no BOS/EOS/PAD token (generation never stops early)."""
    return LlamaConfig(
        hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers, num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads, head_dim=spec.head_dim, vocab_size=spec.vocab_size,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=spec.tie_word_embeddings, rope_theta=500000.0,
        bos_token_id=None, eos_token_id=None, pad_token_id=None,
        architectures=["LlamaForCausalLM"],
    )


def build_model(spec: ModelSpec, device: str = "cuda", seed: int = 0,
                dtype: torch.dtype = torch.bfloat16) -> LlamaForCausalLM:
    """Random-weight LlamaForCausalLM (bf16 unless told) of the spec's shape, built directly on ``device``."""
    torch.manual_seed(seed)
    config = llama_config(spec)
    with torch.device(device):
        model = LlamaForCausalLM._from_config(config, dtype=dtype, attn_implementation="sdpa")
    model.eval()
    generation = model.generation_config
    generation.eos_token_id = None
    generation.bos_token_id = None
    generation.pad_token_id = None
    generation.do_sample = False
    return model


def model_config_fields(model) -> dict:
    """The Hugging Face config fields that define the model's shape, as plain JSON values."""
    config = model.config
    fields = ("architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
              "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
              "max_position_embeddings", "rope_theta", "tie_word_embeddings", "eos_token_id")
    out = {}
    for name in fields:
        value = getattr(config, name, None)
        if name == "rope_theta" and value is None:
            value = (getattr(config, "rope_parameters", None) or {}).get("rope_theta")
        out[name] = value
    out["dtype"] = str(model.dtype).removeprefix("torch.")
    return out


def environment() -> dict:
    """GPU name and library versions for the record."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {"gpu": gpu, "torch": torch.__version__, "transformers": transformers.__version__}


def random_prompts(prompt_lengths: list[int], vocab_size: int, seed: int) -> list[list[int]]:
    """Random prompt token ids, one list per request, from an explicit seeded generator."""
    rng = np.random.default_rng(seed)
    # Token 0 is avoided so no prompt token equals the pad id used for left padding.
    return [rng.integers(1, vocab_size, size=n).tolist() for n in prompt_lengths]
