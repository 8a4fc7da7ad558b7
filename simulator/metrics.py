"""Raw measurements of a simulation: one row per step, per-request outcomes, inter-token gaps.

Steps are stored column-wise in compact arrays so a million-request run stays small. Inter-token
latencies are kept as (gap seconds, count) pairs: every request decoded in a step shares the gap
since the previous decode step, so one pair stands for many tokens.
"""
from __future__ import annotations

from array import array

import numpy as np

from simulator.request import Request
from simulator.step import StepShape

STEP_COLUMNS = ("replica", "start_s", "duration_s", "steps", "prefill_tokens", "decode_seqs",
                "num_seqs",
                "sampled_tokens", "slots", "kv_blocks_used", "waiting", "running")


class Recorder:
    """Collects steps, inter-token gaps, preemptions and finished or rejected requests."""

    def __init__(self) -> None:
        self.steps = {name: array("d" if name.endswith("_s") else "q") for name in STEP_COLUMNS}
        self.itl_gap_s = array("d")
        self.itl_count = array("q")
        self.done: list[Request] = []
        self.preemptions = 0

    def step(self, replica: int, start_s: float, duration_s: float, shape: StepShape,
             state, steps: int = 1) -> int:
        """Record a step, or a run of ``steps`` decode steps, as it starts; return its row."""
        columns = self.steps
        columns["replica"].append(replica)
        columns["start_s"].append(start_s)
        columns["duration_s"].append(duration_s)
        columns["steps"].append(steps)
        columns["prefill_tokens"].append(shape.prefill_tokens)
        columns["decode_seqs"].append(shape.decode_count)
        columns["num_seqs"].append(shape.num_seqs)
        columns["sampled_tokens"].append(0)
        columns["slots"].append(0)
        columns["kv_blocks_used"].append(state.kv.used_blocks)
        columns["waiting"].append(len(state.waiting))
        columns["running"].append(len(state.running))
        return len(columns["start_s"]) - 1

    def sampled(self, row: int, tokens: int, slots: int) -> None:
        """Record how many tokens the step at ``row`` sampled and the slots it offered."""
        self.steps["sampled_tokens"][row] = tokens
        self.steps["slots"][row] = slots

    def raise_waiting(self, row: int, waiting: int) -> None:
        """A request queued during the run at ``row``: its later steps start with ``waiting``."""
        self.steps["waiting"][row] = waiting

    def itl(self, gap_s: float, count: int) -> None:
        """Record ``count`` inter-token gaps of ``gap_s`` seconds."""
        if count > 0:
            self.itl_gap_s.append(gap_s)
            self.itl_count.append(count)

    def itl_run(self, gaps_s, count: int) -> None:
        """Record ``count`` gaps of each duration in ``gaps_s`` (one decode run's later steps)."""
        if isinstance(gaps_s, np.ndarray):
            self.itl_gap_s.frombytes(np.ascontiguousarray(gaps_s, dtype=np.float64).tobytes())
        else:
            self.itl_gap_s.extend(gaps_s)
        self.itl_count.extend([count] * len(gaps_s))

    def preempted(self, replica: int) -> None:
        """Count one preemption."""
        self.preemptions += 1

    def request_done(self, request: Request) -> None:
        """Keep a request that finished or was rejected."""
        self.done.append(request)

    @property
    def num_steps(self) -> int:
        """Forward steps simulated (a run of identical decode steps counts each step)."""
        return int(sum(self.steps["steps"]))
