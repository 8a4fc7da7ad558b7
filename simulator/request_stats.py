"""Request-level totals and latency statistics, from a whole request table or chunk by chunk.

``RequestStats.of_table`` reads the whole table and keeps each latency's values (exact
percentiles). ``add`` folds one arrival-ordered chunk at a time into fixed-size sketches
(``sketch.LogSketch``): what a run too long to keep per-request values uses. Goodput needs the
joint outcome of each request, so a streamed run counts it as chunks pass, for the objectives it
was given before the run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from batchsim.simulator.peaks import concurrency_changes
from batchsim.simulator.sketch import ExactValues, LogSketch

LATENCIES = ("ttft", "tpot", "e2el", "queue")


def good_mask(table: dict, slo) -> np.ndarray:
    """Finished requests within every objective of ``slo`` (``ttft_s``, ``tpot_s``, ``e2e_s``)."""
    good = table["finished"].copy()
    if slo is None:
        return good
    if slo.ttft_s is not None:
        good &= table["ttft_s"] <= slo.ttft_s
    if slo.tpot_s is not None:
        good &= np.nan_to_num(table["tpot_s"], nan=0.0) <= slo.tpot_s
    if slo.e2e_s is not None:
        good &= table["e2e_s"] <= slo.e2e_s
    return good


def _latency_values(table: dict) -> dict[str, np.ndarray]:
    done = table["finished"]
    tpot = table["tpot_s"][done]
    return {"ttft": table["ttft_s"][done], "tpot": tpot[~np.isnan(tpot)],
            "e2el": table["e2e_s"][done], "queue": table["queue_s"][done]}


@dataclass
class RequestStats:
    """Counts, token totals, time span and latency statistics of a run's requests."""

    slo: object = None  # the objectives ``good`` counts against
    requests: int = 0
    completed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    start_s: float = math.inf  # earliest arrival
    end_s: float = -math.inf  # latest finish of a finished request
    good: int = 0
    preempted_requests: int = 0
    rejected_reasons: dict = field(default_factory=dict)
    latencies: dict = field(default_factory=lambda: {name: LogSketch() for name in LATENCIES})
    origin_s: float | None = None  # earliest arrival of a finished request: per-second buckets
    concurrency_change: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def of_table(cls, table: dict, slo=None) -> "RequestStats":
        """Exact statistics of a whole request table."""
        stats = cls(slo, latencies={name: ExactValues(values)
                                    for name, values in _latency_values(table).items()})
        stats._count(table)
        return stats

    def add(self, table: dict) -> None:
        """Fold one chunk of the request table into the sketches and totals."""
        for name, values in _latency_values(table).items():
            self.latencies[name].add(values)
        self._count(table)

    def _count(self, table: dict) -> None:
        done = table["finished"]
        self.requests += int(done.size)
        self.completed += int(done.sum())
        self.input_tokens += int(table["prompt_tokens"][done].sum())
        self.output_tokens += int(table["output_tokens"][done].sum())
        if done.size:
            self.start_s = min(self.start_s, float(table["arrival_s"].min()))
        if done.any():
            self.end_s = max(self.end_s, float(np.nanmax(table["finish_s"][done])))
            if self.origin_s is None:  # chunks come in arrival order: the first sets it
                self.origin_s = float(table["arrival_s"][done].min())
            self.concurrency_change = add_padded(self.concurrency_change, concurrency_changes(
                table["arrival_s"][done], table["finish_s"][done], self.origin_s))
        self.good += int(good_mask(table, self.slo).sum())
        self.preempted_requests += int((table["preemptions"] > 0).sum())
        reasons = self.rejected_reasons
        for reason in table["reason"][~done].tolist():
            key = reason.split(":")[0] if reason else "unknown"
            reasons[key] = reasons.get(key, 0) + 1

    @property
    def max_concurrent_requests(self) -> int:
        """The most finished requests active during one second (vLLM's definition)."""
        change = self.concurrency_change
        return int(np.cumsum(change).max()) if change.size else 0

    @property
    def duration_s(self) -> float:
        """First arrival to last finish (0 without requests; 0 if none finished)."""
        if not self.requests or self.end_s == -math.inf:
            return 0.0
        return self.end_s - self.start_s


def add_padded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise sum of two 1-D arrays, the shorter padded with zeros."""
    if a.size < b.size:
        a, b = b, a
    out = a.copy()
    out[:b.size] += b
    return out
