"""Decode runs priced in a few calls for cost models that price only one step at a time.

A decode run repeats one set of sequences: step j has ``count`` sequences whose context sum is
``context_sum + j * count`` and whose longest context is ``context_max + j``. The simulator
prices a run with the model's vectorized ``decode_run_times_s`` when it has one and otherwise
step by step, which dominates a plan's time with a fitted profile (a static batch's run is
hundreds of steps). For the cost models batchsim has, a decode step's time at a fixed count is
affine in the context sum and the longest context (the profile fit's terms are linear in both at
a fixed token count), so it is affine in j. ``AffineDecodeRuns`` prices the first, middle and
last steps with the model itself and fills the others along the line through the first two,
after checking that the middle and last steps lie on it (relative 1e-9); if they do not, every
step is priced on its own as the simulator would. Pricing the last step also lets a profile note
the run's largest context for its range warnings. Times agree with step-by-step pricing to
float rounding.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from simulator.step import StepShape
from simulator.tensor_parallel import TensorParallelCostModel

TOLERANCE = 1e-9


class AffineDecodeRuns:
    """A cost model with ``decode_run_times_s`` added; every other attribute is the model's."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        if name == "inner":  # not set yet (unpickling): never recurse
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __getstate__(self) -> dict:
        return {"inner": self.inner}

    def __setstate__(self, state: dict) -> None:
        self.inner = state["inner"]

    def step_time_s(self, shape: StepShape) -> float:
        """The wrapped model's time."""
        return self.inner.step_time_s(shape)

    def decode_run_times_s(self, count: int, context_sum: int, context_max: int,
                           steps: int) -> np.ndarray:
        """Times of a run of ``steps`` decode steps (see module docstring)."""
        price = self.inner.step_time_s

        def at(j: int) -> float:
            return price(StepShape((), count, context_sum + j * count, context_max + j))

        if steps <= 3:
            return np.array([at(j) for j in range(steps)])
        first, second, last = at(0), at(1), at(steps - 1)
        middle = steps // 2
        slope = second - first
        line = first + slope * np.arange(steps, dtype=np.float64)
        if _close(line[-1], last) and _close(line[middle], at(middle)):
            line[-1] = last
            return line
        return np.array([at(j) for j in range(steps)])


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b))


def with_fast_runs(cost_model):
    """``cost_model``, or a copy whose one-step-at-a-time parts price decode runs in a few calls."""
    if isinstance(cost_model, TensorParallelCostModel):
        shard = with_fast_runs(cost_model.shard_cost)
        if shard is cost_model.shard_cost:
            return cost_model
        return dataclasses.replace(cost_model, shard_cost=shard)
    if isinstance(cost_model, AffineDecodeRuns) or hasattr(cost_model, "decode_run_times_s"):
        return cost_model
    return AffineDecodeRuns(cost_model)
