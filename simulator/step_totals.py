"""Running totals of step rows: what a summary reads from the steps, without keeping them.

A run's step rows (one per step, or per run of identical decode or prompt-chunk steps, whose
counts are per step) are folded chunk by chunk
into sums, duration-weighted sums and maxima. Folding all rows at once gives the same numbers
as numpy over the whole table (``np.average(x, weights=duration)`` is the weighted sum over the
duration sum); folding in chunks changes only the order of float additions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class StepTotals:
    """Sums and maxima over step rows (seconds, tokens, sequences, KV blocks)."""

    rows: int = 0
    steps: int = 0
    busy_s: float = 0.0
    offered_slots: float = 0.0  # slots offered, summed over every step of every row
    sampled_tokens: int = 0
    prefill_tokens: int = 0
    seqs_sum: int = 0
    seqs_time_sum: float = 0.0  # sequences in flight x row duration
    max_seqs: int = 0
    kv_blocks_sum: int = 0
    kv_blocks_time_sum: float = 0.0
    max_waiting: int = 0

    @classmethod
    def of(cls, steps: dict) -> "StepTotals":
        """Totals of step columns (``metrics.STEP_COLUMNS``)."""
        duration = steps["duration_s"]
        if duration.size == 0:
            return cls()
        return cls(
            rows=int(duration.size), steps=int(steps["steps"].sum()), busy_s=float(duration.sum()),
            offered_slots=float((steps["slots"] * steps["steps"]).sum()),
            sampled_tokens=int(steps["sampled_tokens"].sum()),
            prefill_tokens=int(np.multiply(steps["prefill_tokens"], steps["steps"]).sum()),
            seqs_sum=int(steps["num_seqs"].sum()),
            seqs_time_sum=float(np.multiply(steps["num_seqs"], duration).sum()),
            max_seqs=int(steps["num_seqs"].max()),
            kv_blocks_sum=int(steps["kv_blocks_used"].sum()),
            kv_blocks_time_sum=float(np.multiply(steps["kv_blocks_used"], duration).sum()),
            max_waiting=int(steps["waiting"].max()))

    def __add__(self, other: "StepTotals") -> "StepTotals":
        return StepTotals(
            self.rows + other.rows, self.steps + other.steps, self.busy_s + other.busy_s,
            self.offered_slots + other.offered_slots, self.sampled_tokens + other.sampled_tokens,
            self.prefill_tokens + other.prefill_tokens, self.seqs_sum + other.seqs_sum,
            self.seqs_time_sum + other.seqs_time_sum, max(self.max_seqs, other.max_seqs),
            self.kv_blocks_sum + other.kv_blocks_sum,
            self.kv_blocks_time_sum + other.kv_blocks_time_sum,
            max(self.max_waiting, other.max_waiting))

    @property
    def mean_batch_size(self) -> float:
        """Sequences in flight, weighted by step duration (plain mean if no time passed)."""
        if not self.rows:
            return 0.0
        return self.seqs_time_sum / self.busy_s if self.busy_s > 0 else self.seqs_sum / self.rows

    @property
    def mean_kv_blocks(self) -> float:
        """KV blocks in use, weighted by step duration (plain mean if no time passed)."""
        if not self.rows:
            return 0.0
        return (self.kv_blocks_time_sum / self.busy_s if self.busy_s > 0
                else self.kv_blocks_sum / self.rows)
