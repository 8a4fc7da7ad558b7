"""The cost-model interface: the time of one step from its composition, plus memory facts.

Every cost model (roofline from datasheets, fitted from a GPU profile) is an object with
``step_time_s(shape) -> float`` and a ``memory`` attribute; the simulator needs nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from batchsim.simulator.step import StepShape


@dataclass(frozen=True, slots=True)
class MemoryFacts:
    """What decides KV-cache capacity on one GPU, in bytes."""

    gpu_memory_bytes: int
    weight_bytes: int
    kv_bytes_per_token: int
    reserved_bytes: int = 0  # activations, CUDA context, allocator slack

    def kv_capacity_blocks(self, block_size: int, gpu_memory_utilization: float) -> int:
        """KV blocks that fit, as vLLM sizes its cache from gpu_memory_utilization."""
        budget = self.gpu_memory_bytes * gpu_memory_utilization - self.weight_bytes - self.reserved_bytes
        return max(0, int(budget // (block_size * self.kv_bytes_per_token)))


class CostModel(Protocol):
    """Anything that prices a step."""

    memory: MemoryFacts
    measured_range: object  # a measured_range.MeasuredRange; None where nothing was measured

    def step_time_s(self, shape: StepShape) -> float:
        """Wall time in seconds of one step with this composition."""
        ...


def decode_run_times_s(cost_model, count: int, context_sum: int, context_max: int,
                       steps: int) -> np.ndarray:
    """Times of ``steps`` consecutive decode-only steps of the same sequences.

    Step j has ``count`` sequences with context sum ``context_sum + j * count`` and maximum
    ``context_max + j``. Cost models may provide a vectorized ``decode_run_times_s``; otherwise
    each step is priced on its own.
    """
    vectorized = getattr(cost_model, "decode_run_times_s", None)
    if vectorized is not None:
        return vectorized(count, context_sum, context_max, steps)
    return np.array([cost_model.step_time_s(StepShape((), count, context_sum + j * count,
                                                      context_max + j)) for j in range(steps)])
