"""Analytic roofline cost model: a step's time from FLOPs and bytes over a GPU's datasheet peaks.

Each step reads every weight once and the cached KV of every sequence it attends over; it does
2 FLOPs per parameter per token plus attention FLOPs. Dense work and attention are each bound by
the slower of compute and memory; a fixed per-step overhead stands for kernel launches and the
engine's CPU work. The achievable fractions of peak are stated assumptions, not fits to a trace:
well-tuned bf16 GEMMs reach about 70% of datasheet FLOP/s and streaming kernels about 85% of HBM
bandwidth on Hopper-class parts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from batchsim.simulator.cost import MemoryFacts
from batchsim.simulator.hardware import GpuSpec
from batchsim.simulator.models import ModelSpec
from batchsim.simulator.step import StepShape

COMPUTE_EFFICIENCY = 0.70
MEMORY_EFFICIENCY = 0.85
STEP_OVERHEAD_S = 4e-3  # launch + scheduling per step for an engine without CUDA graphs
RESERVED_BYTES = 2 * 2**30  # CUDA context, activations, allocator slack


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
    _dense_flops_per_token: float = field(init=False, repr=False)
    _weights_read_s: float = field(init=False, repr=False)
    _kv_bytes_per_token: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        m = self.model
        self.memory = MemoryFacts(self.gpu.memory_bytes, m.weight_bytes, m.kv_bytes_per_token,
                                  RESERVED_BYTES)
        self._flops_s = self.gpu.bf16_flops * self.compute_efficiency
        self._bytes_s = self.gpu.hbm_bytes_per_s * self.memory_efficiency
        self._attn_flops_per_pair = m.attention_flops_per_pair
        self._dense_flops_per_token = m.dense_flops_per_token
        self._weights_read_s = m.weight_bytes / self._bytes_s  # every step reads every weight
        self._kv_bytes_per_token = m.kv_bytes_per_token

    def step_time_s(self, shape: StepShape) -> float:
        """Overhead + dense roofline + attention roofline + host-link transfer."""
        tokens = seqs = shape.decode_count
        pairs = shape.decode_context_sum + shape.decode_count
        kv_read = shape.decode_context_sum
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

    def _time_s(self, tokens, pairs, kv_read, swap_s: float, seqs) -> float:
        # the hot path of every simulation: plain comparisons instead of max(), and the same
        # operation order as decode_run_times_s so both give identical floats
        if tokens == 0:
            return swap_s
        dense_s = tokens * self._dense_flops_per_token / self._flops_s
        if dense_s < self._weights_read_s:
            dense_s = self._weights_read_s
        attention_s = pairs * self._attn_flops_per_pair / self._flops_s
        kv_s = (kv_read + tokens) * self._kv_bytes_per_token / self._bytes_s
        if attention_s < kv_s:
            attention_s = kv_s
        host_s = self.step_overhead_s + self.per_sequence_s * seqs + self.per_token_s * tokens
        return host_s + dense_s + attention_s + swap_s

    def decode_run_times_s(self, count: int, context_sum: int, context_max: int,
                           steps: int) -> np.ndarray:
        """Vectorized ``step_time_s`` over a run of decode-only steps (see simulator.cost)."""
        if count == 0:
            return np.zeros(steps)
        dense_s = max(count * self._dense_flops_per_token / self._flops_s, self._weights_read_s)
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
