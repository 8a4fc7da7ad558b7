"""A Llama-architecture forward in plain torch, built from a ``ModelSpec`` with random weights.

Eager and cuda-graph modes time this model: the same GEMMs, norms, rotary embedding and
attention as a Llama decoder, with the KV cache held per sequence group in contiguous tensors.
A step's tokens are packed into one [T, hidden] matrix so every linear layer runs once over all
of them (as serving engines do); attention runs per prefill chunk and per decode group, each
reading only its own sequences' context, which is what paged kernels cost. Weights are drawn
from a normal distribution (never zeros: zeros time faster than real data).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention.bias import causal_lower_right

from batchsim.simulator.models import ModelSpec


class DecoderLayer(nn.Module):
    """One Llama block: attention and gated MLP, both pre-normed."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        # a tensor-parallel shard keeps the hidden width but holds fewer heads: Q is attention_width wide
        h, q, kv = spec.hidden_size, spec.attention_width, spec.num_key_value_heads * spec.head_dim
        self.qkv = nn.Linear(h, q + 2 * kv, bias=False)
        self.o = nn.Linear(q, h, bias=False)
        self.gate_up = nn.Linear(h, 2 * spec.intermediate_size, bias=False)
        self.down = nn.Linear(spec.intermediate_size, h, bias=False)
        self.norm1 = nn.RMSNorm(h, eps=1e-5)
        self.norm2 = nn.RMSNorm(h, eps=1e-5)
        self.heads, self.kv_heads, self.head_dim = spec.num_attention_heads, spec.num_key_value_heads, spec.head_dim

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, segments: list, caches: list) -> torch.Tensor:
        """x: [T, hidden]; segments: (start, stop, kind) rows per cache entry of this layer."""
        q, k, v = self.qkv(self.norm1(x)).split(
            [self.heads * self.head_dim, self.kv_heads * self.head_dim, self.kv_heads * self.head_dim], dim=-1)
        q = _rotate(q.view(-1, self.heads, self.head_dim), cos, sin)
        k = _rotate(k.view(-1, self.kv_heads, self.head_dim), cos, sin)
        v = v.view(-1, self.kv_heads, self.head_dim)
        out = torch.empty_like(q)
        for (start, stop, seqs), (k_cache, v_cache, cached) in zip(segments, caches):
            rows = slice(start, stop)
            new = (stop - start) // seqs
            # write the new K/V behind the cached context, then attend over both
            k_cache[:, :, cached:cached + new] = k[rows].view(seqs, new, self.kv_heads, self.head_dim).transpose(1, 2)
            v_cache[:, :, cached:cached + new] = v[rows].view(seqs, new, self.kv_heads, self.head_dim).transpose(1, 2)
            query = q[rows].view(seqs, new, self.heads, self.head_dim).transpose(1, 2)
            keys, values = k_cache[:, :, :cached + new], v_cache[:, :, :cached + new]
            if new > 1 and cached == 0:
                attn = F.scaled_dot_product_attention(query, keys, values, is_causal=True, enable_gqa=True)
            else:
                mask = causal_lower_right(new, cached + new) if new > 1 else None
                attn = F.scaled_dot_product_attention(query, keys, values, attn_mask=mask, enable_gqa=True)
            out[rows] = attn.transpose(1, 2).reshape(stop - start, self.heads, self.head_dim)
        x = x + self.o(out.view(x.shape[0], -1))
        gate, up = self.gate_up(self.norm2(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos[:, None, :] + rotated * sin[:, None, :]


class DenseLlama(nn.Module):
    """Embedding, decoder layers, final norm and LM head of a ``ModelSpec``."""

    def __init__(self, spec: ModelSpec, max_positions: int, built_layers: int | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.embed = nn.Embedding(spec.vocab_size, spec.hidden_size)
        count = spec.num_hidden_layers if built_layers is None else built_layers
        self.layers = nn.ModuleList(DecoderLayer(spec) for _ in range(count))
        self.norm = nn.RMSNorm(spec.hidden_size, eps=1e-5)
        self.lm_head = nn.Linear(spec.hidden_size, spec.vocab_size, bias=False)
        inv_freq = 1.0 / (500000.0 ** (torch.arange(0, spec.head_dim, 2).float() / spec.head_dim))
        angles = torch.outer(torch.arange(max_positions).float(), inv_freq)
        self.register_buffer("cos", torch.cat((angles, angles), -1).cos(), persistent=False)
        self.register_buffer("sin", torch.cat((angles, angles), -1).sin(), persistent=False)

    def forward(self, token_ids, positions, logit_rows, segments, caches) -> torch.Tensor:
        """Next-token ids for ``logit_rows``; caches[layer][segment] = (k, v, cached_len).

        Only as many layers run as ``caches`` has entries, so a step can be timed at reduced depth.
        """
        x = self.embed(token_ids)
        cos, sin = self.cos[positions].to(x.dtype), self.sin[positions].to(x.dtype)
        for layer, layer_caches in zip(self.layers, caches):
            x = layer(x, cos, sin, segments, layer_caches)
        logits = self.lm_head(self.norm(x[logit_rows])).float()
        return logits.argmax(dim=-1)


def build_dense_model(spec: ModelSpec, device: torch.device, dtype: torch.dtype, max_positions: int,
                      built_layers: int | None = None) -> DenseLlama:
    """Allocate the model on ``device`` with normal(0, 0.02) weights (``built_layers`` of its layers)."""
    with torch.device(device):
        model = DenseLlama(spec, max_positions, built_layers).to(dtype)
    generator = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" not in name:
                param.normal_(0.0, 0.02, generator=generator)
    return model.eval()
