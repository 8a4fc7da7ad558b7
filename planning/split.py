"""Round-robin replicas simulated one at a time, then merged into one result.

A round-robin router sends the i-th arriving request to replica i mod N whatever the replicas'
state, so the replicas never interact: replaying each replica's share of the trace on its own
gives the same request timings as replaying them together. It is also cheaper (a shared replay
cuts every replica's decode runs at every arrival, a split one only at that replica's own) and
the shares can run in different processes. Timings can differ in the last bits where runs are
cut at different points (a run's end is a sum of step times): float rounding, not behaviour.

Results cross process boundaries as ``CompactResult``: numpy columns instead of Request objects,
which pickle about a hundred times faster. The merged result holds the requests in trace order
with their replica index, the steps of all replicas ordered by start time (``MergedRecorder``),
and per replica the KV facts a summary reads (``ReplicaFacts``).
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass, replace

import numpy as np

from batchsim.simulator.kv_cache import BlockManager
from batchsim.simulator.metrics import STEP_COLUMNS
from batchsim.simulator.prefix_cache import PrefixCacheTally
from batchsim.simulator.request import Request
from batchsim.simulator.simulation import ReplicaSetup, SimulationResult, simulate
from batchsim.simulator.workload import requests_from_table

_TIMES = ("first_token_s", "finish_s", "admitted_s", "last_token_s")


def round_robin_shares(table, replicas: int) -> list:
    """Replica i's requests: rows i, i + N, i + 2N, ... of the arrival-sorted table."""
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    arrival = np.asarray(table["arrival_s"], dtype=float)
    if np.any(arrival[1:] < arrival[:-1]):
        table = table.iloc[np.argsort(arrival, kind="stable")]
    return [table.iloc[i::replicas] for i in range(replicas)]


def simulate_round_robin(table, setup: ReplicaSetup, replicas: int,
                         keep_itl: bool = True) -> SimulationResult:
    """Replay ``table`` through ``replicas`` round-robin replicas, one replica at a time."""
    shares = round_robin_shares(table, replicas)
    return merge_results([compact(simulate(requests_from_table(s), setup, 1), keep_itl)
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

    request_columns: dict  # name -> array, one entry per request in share order
    reasons: list  # rejection reason per request ('' when finished)
    statuses: list
    steps: dict  # step column name -> array
    itl_gap_s: np.ndarray
    itl_count: np.ndarray
    preemptions: int
    kv: BlockManager
    end_s: float
    prefix_cache: PrefixCacheTally | None = None


def compact(result: SimulationResult, keep_itl: bool = True) -> CompactResult:
    """Columns of a single-replica result, requests in their original order.

    Without ``keep_itl`` the inter-token gaps (one entry per decode step: millions on a long
    trace) are left out; summaries of the merged result then have no ITL statistics.
    """
    reqs = result.requests
    replica = result.replicas[0]
    nan = float("nan")
    columns = {
        "request_id": [r.request_id for r in reqs],
        "arrival_s": np.fromiter((r.arrival_s for r in reqs), float, len(reqs)),
        "prompt_tokens": np.fromiter((r.prompt_tokens for r in reqs), np.int64, len(reqs)),
        "output_tokens": np.fromiter((r.output_tokens for r in reqs), np.int64, len(reqs)),
        "num_generated": np.fromiter((r.num_generated for r in reqs), np.int64, len(reqs)),
        "preemptions": np.fromiter((r.preemptions for r in reqs), np.int64, len(reqs)),
    }
    for name in _TIMES:
        columns[name] = np.fromiter((nan if getattr(r, name) is None else getattr(r, name)
                                     for r in reqs), float, len(reqs))
    columns_by_name = result.recorder.steps
    steps = {name: np.frombuffer(columns_by_name[name], dtype=_dtype(name)).copy()
             for name in STEP_COLUMNS}
    recorder = result.recorder
    gaps, counts = np.zeros(0), np.zeros(0, np.int64)
    if keep_itl:
        gaps = np.frombuffer(recorder.itl_gap_s, dtype=np.float64)
        counts = np.frombuffer(recorder.itl_count, dtype=np.int64)
    return CompactResult(columns, [r.reason for r in reqs], [r.status for r in reqs], steps,
                         gaps.copy(), counts.copy(), recorder.preemptions,
                         replace(replica.kv, evict=None), result.end_s,
                         replica.prefix_cache and replica.prefix_cache.tally())


@dataclass
class MergedRecorder:
    """Several replicas' measurements, shaped as summaries and exports read a Recorder."""

    steps: dict  # step column name -> numpy array, rows ordered by start time
    itl_gap_s: np.ndarray
    itl_count: np.ndarray
    done: list
    preemptions: int

    @property
    def num_steps(self) -> int:
        """Forward steps simulated (a run of identical decode steps counts each step)."""
        return int(self.steps["steps"].sum())


def merge_results(parts: list[CompactResult]) -> SimulationResult:
    """One result from single-replica parts; part i is replica i of a round-robin split."""
    count = len(parts)
    requests: list = [None] * sum(len(p.statuses) for p in parts)
    done: list = []
    for index, part in enumerate(parts):
        share = _requests(part, index)
        requests[index::count] = share
        done.extend(share)
    recorder = MergedRecorder(
        _merged_steps(parts),
        np.concatenate([p.itl_gap_s for p in parts]) if parts else np.zeros(0),
        np.concatenate([p.itl_count for p in parts]) if parts else np.zeros(0, np.int64),
        done, sum(p.preemptions for p in parts))
    replicas = [ReplicaFacts(i, part.kv, part.prefix_cache) for i, part in enumerate(parts)]
    end_s = max((p.end_s for p in parts), default=0.0)
    return SimulationResult(requests, recorder, replicas, end_s)


def _requests(part: CompactResult, replica: int) -> list[Request]:
    c = part.request_columns
    lists = {name: values if isinstance(values, list) else values.tolist()
             for name, values in c.items()}
    out = []
    for i in range(len(part.statuses)):
        request = Request(lists["request_id"][i], lists["arrival_s"][i], lists["prompt_tokens"][i],
                          lists["output_tokens"][i])
        request.status, request.reason, request.replica = part.statuses[i], part.reasons[i], replica
        request.num_generated = lists["num_generated"][i]
        request.preemptions = lists["preemptions"][i]
        for name in _TIMES:
            value = lists[name][i]
            setattr(request, name, None if value != value else value)  # NaN marks None
        out.append(request)
    return out


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
