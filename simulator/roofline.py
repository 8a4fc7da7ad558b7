"""Analytic roofline cost model: a step's time from FLOPs and bytes over a GPU's datasheet peaks.

Each step streams every weight matrix once (an untied input embedding is gathered a row per
token, not streamed) and reads the cached KV of every sequence it attends over; it does 2 FLOPs
per layer parameter per token, the output head's 2 per head parameter per sequence (logits are
computed only where a sequence samples, its last scheduled token), plus attention FLOPs. Dense
work and attention are each bound by the slower of compute and memory; a fixed per-step overhead
stands for kernel launches and the engine's CPU work. The achievable fractions of peak are
stated assumptions, not fits to a trace: well-tuned bf16 GEMMs reach about 70% of datasheet
FLOP/s and streaming kernels about 85% of HBM bandwidth on Hopper-class parts.

A step that prefills and decodes at once runs all its attention in one variable-length
(FlashAttention-style) call, which tiles each sequence's queries in blocks of
``VARLEN_QUERY_TILE_ROWS`` rows: a decode's single query row computes a whole block, so in such a
step decode attention costs that many rows of arithmetic (a decode-only step runs the decode
kernel, which reads KV at memory speed). Measured through vLLM (LLMServingSim's published
per-layer attention profiles of Llama-3.1-8B): a 16-token chunk beside 128 decodes at 2,048
tokens of context takes 3.8x the decodes' attention alone on an RTX 4090, 2.1x on an RTX PRO
6000 (1.4-3.8x at the other points read), in line with 128-row blocks at those GPUs' FLOP rates.

Dense layers run as GEMMs cut into ``GEMM_TILE`` x ``GEMM_TILE`` output tiles (tokens x output
features), one tile per streaming multiprocessor at a time: a GEMM's arithmetic takes whole waves
of ``sm_count`` tiles, so a last partial wave leaves SMs idle and a partial tile of tokens
computes a whole one (the GPU datasheet's ``sm_count``; without it no tiling is modelled). A GEMM
with fewer tiles than SMs is split along its inner dimension to fill the GPU, and fewer tokens
than a tile run narrower tiles: neither loses anything here. Measured through vLLM (the same
LLMServingSim profiles, Llama-3.1-8B GEMMs): times step up every 128 tokens on both GPUs; at
2,048 tokens the RTX 4090 (128 SMs, every GEMM a whole number of waves) reaches 0.99-1.01 of its
datasheet FLOP/s on all four, the RTX PRO 6000 (188 SMs) 0.64-0.78 in the order its waves
predict (qkv 0.82, o and down 0.91, gate_up 0.95 of peak).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import math

import numpy as np

from batchsim.simulator.cost import MemoryFacts
from batchsim.simulator.hardware import GpuSpec
from batchsim.simulator.models import ModelSpec
from batchsim.simulator.step import StepShape

COMPUTE_EFFICIENCY = 0.70
MEMORY_EFFICIENCY = 0.85
STEP_OVERHEAD_S = 4e-3  # launch + scheduling per step for an engine without CUDA graphs
RESERVED_BYTES = 2 * 2**30  # CUDA context, activations, allocator slack
VARLEN_QUERY_TILE_ROWS = 128  # FlashAttention-2's query block for head dim 128 (see docstring)
GEMM_TILE = 128  # rows and columns of a GEMM output tile (see docstring)


@dataclass(slots=True)
class RooflineCostModel:
    """Prices steps of ``model`` on ``gpu`` from first principles."""

    measured_range: ClassVar[None] = None  # nothing measured: reports say "unprofiled"
    model: ModelSpec
    gpu: GpuSpec
    step_overhead_s: float = STEP_OVERHEAD_S
    compute_efficiency: float = COMPUTE_EFFICIENCY  # achieved fraction of datasheet FLOP/s
    memory_efficiency: float = MEMORY_EFFICIENCY  # achieved fraction of datasheet HBM bytes/s
    per_sequence_s: float = 0.0  # per sequence in the step (input preparation, sampling)
    per_token_s: float = 0.0  # per token computed (small kernels outside the GEMMs)
    calibration: str | None = None  # name of the calibrated profile these values come from
    memory: MemoryFacts = field(init=False)
    _flops_s: float = field(init=False, repr=False)
    _bytes_s: float = field(init=False, repr=False)
    _attn_flops_per_pair: float = field(init=False, repr=False)
    _layer_flops_per_token: float = field(init=False, repr=False)
    _head_flops_per_sequence: float = field(init=False, repr=False)
    _weights_read_s: float = field(init=False, repr=False)
    _gemm_shapes: tuple = field(init=False, repr=False)
    _tiling: dict = field(init=False, repr=False)
    _kv_bytes_per_token: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        m = self.model
        self.memory = MemoryFacts(self.gpu.memory_bytes, m.weight_bytes, m.kv_bytes_per_token,
                                  RESERVED_BYTES)
        self._flops_s = self.gpu.bf16_flops * self.compute_efficiency
        self._bytes_s = self.gpu.hbm_bytes_per_s * self.memory_efficiency
        self._attn_flops_per_pair = m.attention_flops_per_pair
        self._layer_flops_per_token = m.layer_flops_per_token
        self._head_flops_per_sequence = m.head_flops_per_sequence
        self._weights_read_s = m.streamed_weight_bytes / self._bytes_s  # every step, every matrix
        kv_width = m.num_key_value_heads * m.head_dim
        # (output features, inner dimension) of each layer GEMM: qkv, o, gate+up, down
        self._gemm_shapes = ((m.attention_width + 2 * kv_width, m.hidden_size),
                             (m.hidden_size, m.attention_width),
                             (2 * m.intermediate_size, m.hidden_size),
                             (m.hidden_size, m.intermediate_size))
        self._tiling = {}  # tokens -> layer arithmetic stretched by whole tiles and waves
        self._kv_bytes_per_token = m.kv_bytes_per_token

    def step_time_s(self, shape: StepShape) -> float:
        """Overhead + dense roofline + attention roofline + host-link transfer."""
        tokens = seqs = shape.decode_count
        pairs = shape.decode_context_sum + shape.decode_count
        kv_read = shape.decode_context_sum
        if shape.prefill_chunks:  # one varlen call: each decode query computes a whole block
            pairs *= VARLEN_QUERY_TILE_ROWS
        for new, cached in shape.prefill_chunks:
            tokens += new
            pairs += new * cached + new * (new + 1) / 2
            kv_read += cached
            seqs += 1
        swap_s = shape.swap_tokens * self.memory.kv_bytes_per_token / self.gpu.host_link_bytes_per_s
        return self._time_s(tokens, pairs, kv_read, swap_s, seqs)

    def decode_step_time_s(self, count: int, context_sum: int, context_max: int) -> float:
        """``step_time_s`` of a decode-only step, without building its StepShape."""
        return self._time_s(count, context_sum + count, context_sum, 0.0, count)

    def chunk_step_time_s(self, chunk: int, cached: int, count: int, context_sum: int,
                          context_max: int) -> float:
        """``step_time_s`` of one prompt chunk (``chunk`` new tokens on ``cached``) beside
        ``count`` decodes, without building its StepShape: the same terms in the same order,
        so the same float."""
        pairs = (context_sum + count) * VARLEN_QUERY_TILE_ROWS  # one varlen call, as above
        pairs += chunk * cached + chunk * (chunk + 1) / 2
        return self._time_s(count + chunk, pairs, context_sum + cached, 0.0, count + 1)

    def _time_s(self, tokens, pairs, kv_read, swap_s: float, seqs) -> float:
        # the hot path of every simulation: plain comparisons instead of max(), and the same
        # operation order as decode_run_times_s so both give identical floats
        if tokens == 0:
            return swap_s
        layer_flops = tokens * self._layer_flops_per_token
        if tokens >= GEMM_TILE and self.gpu.sm_count:
            stretch = self._tiling.get(tokens)
            layer_flops *= stretch if stretch is not None else self._tile_stretch(tokens)
        dense_s = (layer_flops + seqs * self._head_flops_per_sequence) / self._flops_s
        if dense_s < self._weights_read_s:
            dense_s = self._weights_read_s
        attention_s = pairs * self._attn_flops_per_pair / self._flops_s
        kv_s = (kv_read + tokens) * self._kv_bytes_per_token / self._bytes_s
        if attention_s < kv_s:
            attention_s = kv_s
        host_s = self.step_overhead_s + self.per_sequence_s * seqs + self.per_token_s * tokens
        return host_s + dense_s + attention_s + swap_s

    def _tile_stretch(self, tokens: int) -> float:
        """Arithmetic the layer GEMMs occupy the SMs for, over what they need (see docstring)."""
        sms, occupied, needed = self.gpu.sm_count, 0, 0
        row_tiles = -(-tokens // GEMM_TILE)
        for features, inner in self._gemm_shapes:
            tiles = row_tiles * -(-features // GEMM_TILE)
            needed += tokens * features * inner
            if tiles < sms:  # split along the inner dimension: the GPU is filled
                occupied += tokens * features * inner
            else:
                occupied += math.ceil(tiles / sms) * sms * GEMM_TILE * GEMM_TILE * inner
        self._tiling[tokens] = stretch = occupied / needed
        return stretch

    def decode_run_times_s(self, count: int, context_sum: int, context_max: int,
                           steps: int) -> np.ndarray:
        """Vectorized ``step_time_s`` over a run of decode-only steps (see simulator.cost)."""
        if count == 0:
            return np.zeros(steps)
        layer_flops = count * self._layer_flops_per_token
        if count >= GEMM_TILE and self.gpu.sm_count:
            stretch = self._tiling.get(count)
            layer_flops *= stretch if stretch is not None else self._tile_stretch(count)
        dense_s = max((layer_flops + count * self._head_flops_per_sequence) / self._flops_s,
                      self._weights_read_s)
        # in place, in the same operation order as _time_s so each element equals step_time_s;
        # token counts are whole numbers far below 2**53, exact in doubles
        read = np.arange(steps, dtype=np.float64)
        read *= count
        read += context_sum + count  # KV entries read: cached context plus the new tokens
        compute_s = read * self._attn_flops_per_pair
        compute_s /= self._flops_s
        read *= self._kv_bytes_per_token
        read /= self._bytes_s
        np.maximum(compute_s, read, out=compute_s)
        compute_s += (self.step_overhead_s + self.per_sequence_s * count
                      + self.per_token_s * count) + dense_s
        return compute_s
