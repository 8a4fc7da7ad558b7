"""Tensor parallelism (Megatron-style) on top of any per-GPU cost model.

Under degree T each GPU holds 1/T of the attention heads, KV heads, MLP intermediate size and
vocabulary, so it computes and stores 1/T of every step's work and KV; each decoder layer then
all-reduces its hidden state twice (after attention and after the MLP). A step on a TP replica
costs the shard's step plus 2 x layers all-reduces of tokens x hidden x dtype bytes.

All-reduce time follows the ring algorithm: each GPU sends and receives 2 (T-1)/T of the
message, over the per-direction link bandwidth at an achievable fraction, plus a fixed latency
per all-reduce. Defaults come from the datasheet NVLink figure; measured values (NCCL
all_reduce timings) replace them when a profile carries them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from batchsim.simulator.cost import MemoryFacts, decode_run_times_s
from batchsim.simulator.models import ModelSpec
from batchsim.simulator.step import StepShape

LINK_EFFICIENCY = 0.80  # NCCL bus bandwidth reaches ~80% of the NVLink datasheet rate
ALLREDUCE_LATENCY_S = 8e-6  # small-message all-reduce latency over NVLink, per call


def shard_spec(model: ModelSpec, tp: int) -> ModelSpec:
    """The shape one GPU holds under tensor parallelism of degree ``tp``."""
    if tp < 1:
        raise ValueError("tensor parallel degree must be at least 1")
    if tp == 1:
        return model
    for name in ("num_attention_heads", "num_key_value_heads", "intermediate_size"):
        if getattr(model, name) % tp:
            raise ValueError(f"{model.name}: {name}={getattr(model, name)} is not divisible by "
                             f"tensor parallel degree {tp}")
    # the residual stream keeps its full width; heads, MLP columns and vocabulary are split
    return replace(model, name=f"{model.name}-tp{tp}-shard", head_dim_override=model.head_dim,
                   intermediate_size=model.intermediate_size // tp,
                   num_attention_heads=model.num_attention_heads // tp,
                   num_key_value_heads=model.num_key_value_heads // tp,
                   vocab_size=-(-model.vocab_size // tp))


@dataclass(frozen=True)
class AllReduceModel:
    """Ring all-reduce time from message size, link bandwidth and per-call latency."""

    link_bytes_per_s: float
    latency_s: float = ALLREDUCE_LATENCY_S
    efficiency: float = LINK_EFFICIENCY

    def time_s(self, message_bytes: float, tp: int) -> float:
        """Seconds for one all-reduce of ``message_bytes`` across ``tp`` GPUs."""
        if tp <= 1 or message_bytes <= 0:
            return 0.0
        traffic = 2.0 * (tp - 1) / tp * message_bytes
        return self.latency_s + traffic / (self.link_bytes_per_s * self.efficiency)


@dataclass
class TensorParallelCostModel:
    """A TP replica: a shard's cost model plus the all-reduces every layer adds."""

    shard_cost: object
    model: ModelSpec  # the full model
    tp: int
    allreduce: AllReduceModel
    memory: MemoryFacts = field(init=False)

    def __post_init__(self) -> None:
        self.memory = self.shard_cost.memory
        self.name = f"{getattr(self.shard_cost, 'name', 'shard')} x tp{self.tp}"
        # a TP step holds the same tokens and contexts as the shard's: the shard's range applies
        self.measured_range = getattr(self.shard_cost, "measured_range", None)

    def _comm_s(self, tokens: int) -> float:
        message = tokens * self.model.hidden_size * self.model.dtype_bytes
        return 2 * self.model.num_hidden_layers * self.allreduce.time_s(message, self.tp)

    def step_time_s(self, shape: StepShape) -> float:
        """Shard step plus the step's all-reduces."""
        return self.shard_cost.step_time_s(shape) + self._comm_s(shape.num_tokens)

    def decode_run_times_s(self, count: int, context_sum: int, context_max: int,
                           steps: int) -> np.ndarray:
        """Vectorized run of decode steps (the all-reduce size is constant over the run)."""
        base = decode_run_times_s(self.shard_cost, count, context_sum, context_max, steps)
        return base + self._comm_s(count)
