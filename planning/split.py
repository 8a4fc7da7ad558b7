"""Round-robin replicas simulated one at a time, then merged into one result.

A round-robin router sends the i-th arriving request to replica i mod N whatever the replicas'
state, so the replicas never interact: replaying each replica's share of the trace on its own
gives the same request timings as replaying them together. It is also cheaper (a shared replay
cuts every replica's decode runs at every arrival, a split one only at that replica's own) and
the shares can run in different processes. Timings can differ in the last bits where runs are
cut at different points (a run's end is a sum of step times): float rounding, not behaviour.

Results cross process boundaries as ``CompactResult``: the request table's numpy columns. The
merged result holds the requests in trace order with their replica index, the steps of all
replicas ordered by start time (``MergedRecorder``), and per replica the KV facts a summary
reads (``ReplicaFacts``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from batchsim.simulator.kv_cache import BlockManager
from batchsim.simulator.metrics import STEP_COLUMNS
from batchsim.simulator.outcomes import with_latencies
from batchsim.simulator.peaks import peak_output_tokens_per_s
from batchsim.simulator.prefix_cache import PrefixCacheTally
from batchsim.simulator.request_stats import RequestStats
from batchsim.simulator.simulation import ReplicaSetup, SimulationResult, simulate
from batchsim.simulator.sketch import ExactValues, merge_values
from batchsim.simulator.step_totals import StepTotals
from batchsim.simulator.workload import TraceColumns, trace_from_table
from batchsim.traces.columns import take_rows


def round_robin_shares(table, replicas: int) -> list:
    """Replica i's requests: rows i, i + N, i + 2N, ... of the arrival-sorted table."""
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    arrival = np.asarray(table["arrival_s"], dtype=float)
    if np.any(arrival[1:] < arrival[:-1]):
        table = take_rows(table, np.argsort(arrival, kind="stable"))
    return [take_rows(table, slice(i, None, replicas)) for i in range(replicas)]


def simulate_round_robin(table, setup: ReplicaSetup, replicas: int,
                         keep_itl: bool = True) -> SimulationResult:
    """Replay ``table`` through ``replicas`` round-robin replicas, one replica at a time."""
    shares = round_robin_shares(table, replicas)
    return merge_results([compact(simulate(trace_from_table(s), setup, 1), keep_itl)
                          for s in shares])


@dataclass
class ReplicaFacts:
    """What a summary reads from a replica once its simulation is over."""

    index: int
    kv: BlockManager
    prefix_cache: PrefixCacheTally | None = None


@dataclass
class CompactResult:
    """A one-replica SimulationResult as numpy columns (cheap to pickle)."""

    request_columns: dict  # request-table columns, one entry per request in share order
    steps: dict  # step column name -> array
    itl: object  # sketch.ExactValues or LogSketch
    preemptions: int
    kv: BlockManager
    end_s: float
    prefix_cache: PrefixCacheTally | None = None


def compact(result: SimulationResult, keep_itl: bool = True) -> CompactResult:
    """Columns of a single-replica result, requests in their original order.

    Without ``keep_itl`` the inter-token gaps (one entry per decode step: millions on a long
    trace) are left out; summaries of the merged result then have no ITL statistics.
    """
    recorder = result.recorder
    itl = recorder.itl_values() if keep_itl else ExactValues()
    if isinstance(itl, ExactValues):
        itl = ExactValues(itl.values_s.copy(), None if itl.counts is None else itl.counts.copy())
    replica = result.replicas[0]
    return CompactResult(dict(recorder.request_table()), recorder.steps, itl,
                         recorder.preemptions, replace(replica.kv, evict=None), result.end_s,
                         replica.prefix_cache and replica.prefix_cache.tally())


@dataclass
class MergedRecorder:
    """Several replicas' measurements, read the way summaries and exports read a Recorder."""

    steps: dict  # step column name -> numpy array, rows ordered by start time
    itl: object  # sketch.ExactValues or LogSketch
    table: dict  # request-table columns in arrival order
    preemptions: int
    keeps_requests = True

    @property
    def num_steps(self) -> int:
        """Forward steps simulated (a run of identical decode steps counts each step)."""
        return int(self.steps["steps"].sum())

    def request_table(self) -> dict:
        """Per-request columns in arrival order."""
        return self.table

    def request_stats(self, slo=None) -> RequestStats:
        """Exact request statistics."""
        return RequestStats.of_table(self.table, slo)

    def step_totals(self) -> StepTotals:
        """Totals over every step row."""
        return StepTotals.of(self.steps)

    def step_fold_results(self, name: str, fold) -> list:
        """``fold`` of the step rows (all kept)."""
        return [fold(self.steps)]

    def peak_output_tokens_per_s(self, origin_s: float | None) -> float:
        """The most tokens sampled in one second counted from ``origin_s`` (0 if None)."""
        return peak_output_tokens_per_s(self.steps, origin_s or 0.0)

    def itl_values(self):
        """Every replica's inter-token gaps."""
        return self.itl

    def drop_itl(self) -> None:
        """Forget the inter-token gaps (summaries then report no ITL)."""
        self.itl = ExactValues()


def merge_results(parts: list[CompactResult]) -> SimulationResult:
    """One result from single-replica parts; part i is replica i of a round-robin split."""
    count = len(parts)
    total = sum(len(p.request_columns["arrival_s"]) for p in parts)
    table: dict = {}
    for name in (parts[0].request_columns if parts else ()):
        sample = parts[0].request_columns[name]
        column = np.empty(total, dtype=sample.dtype)
        for index, part in enumerate(parts):
            column[index::count] = part.request_columns[name]
        table[name] = column
    if parts:
        table["replica"] = np.arange(total, dtype=np.int64) % count
    else:
        table = with_latencies({"request_id": np.zeros(0, np.int64), "arrival_s": np.zeros(0),
                                "prompt_tokens": np.zeros(0, np.int64),
                                "output_tokens": np.zeros(0, np.int64),
                                "first_token_s": np.zeros(0), "finish_s": np.zeros(0),
                                "admitted_s": np.zeros(0), "last_token_s": np.zeros(0),
                                "preemptions": np.zeros(0, np.int64),
                                "replica": np.zeros(0, np.int64),
                                "num_generated": np.zeros(0, np.int64),
                                "finished": np.zeros(0, bool), "reason": np.zeros(0, object)})
    recorder = MergedRecorder(_merged_steps(parts), merge_values([p.itl for p in parts]), table,
                              sum(p.preemptions for p in parts))
    replicas = [ReplicaFacts(i, part.kv, part.prefix_cache) for i, part in enumerate(parts)]
    end_s = max((p.end_s for p in parts), default=0.0)
    trace = TraceColumns(table["arrival_s"], table["prompt_tokens"], table["output_tokens"],
                         table["request_id"])
    return SimulationResult(trace, recorder, replicas, end_s)


def _merged_steps(parts: list[CompactResult]) -> dict:
    if not parts:
        return {name: np.zeros(0, _dtype(name)) for name in STEP_COLUMNS}
    columns = {name: np.concatenate([p.steps[name] for p in parts]) for name in STEP_COLUMNS}
    columns["replica"] = np.concatenate([np.full(len(p.steps["start_s"]), i, np.int64)
                                         for i, p in enumerate(parts)])
    order = np.lexsort((columns["replica"], columns["start_s"]))
    return {name: np.ascontiguousarray(values[order]) for name, values in columns.items()}


def _dtype(name: str):
    return np.float64 if name.endswith("_s") else np.int64
