"""Served steps: every step of a recorded continuous-batching run with its full composition.

A hf_cb record logs each engine step's start, host and forward times and its totals (requests,
decodes, query and KV tokens), and each request's token times. A token time is taken right after
its step's forward (``records/ENGINE_NOTES.md``), so it falls inside exactly one logged step; from
that the composition of every step follows:

- a request's token k >= 1 is a decode in the step that produced it, over ``prompt + k - 1``
  cached tokens (the query is token k-1);
- its prompt is prefilled in the steps from its admission up to the step of its first token. The
  engine serves prompts first come first served and splits only the last one a step's budget
  reaches, so the step's prompt tokens (query tokens less decodes) are handed out to the waiting
  prompts in arrival order; a prompt cached so far is the sum of its earlier chunks.

The reconstruction checks itself against the log: each step's decode count, prompt-token total
and set of prompts finishing there must match, or the step is left out and counted. Runs that
preempted (soft resets restart a request's token times and recompute its prompt) are left out
whole. A step's time is what it took in service: host preparation, forward (with sync) and
update; the records show under 0.2 ms between one step's end and the next start.

This is the engine's step cost as delivered under load, which a profile's isolated grid points can
miss: without CUDA graphs this engine's small steps are bimodal in streaks (about 70 or 100 ms), so
a grid point of a few consecutive steps lands in one mode, while a served run mixes them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from batchsim.simulator.profile_format import StepRecord
from batchsim.traces.record_format import STEP_LOG_COLUMNS



@dataclass(frozen=True)
class ServedSteps:
    """The steps of one record that could be reconstructed, and why the others could not."""

    case: str
    steps: list[StepRecord]
    logged: int
    skipped: dict[str, int]


def served_steps(data: dict) -> ServedSteps:
    """Reconstruct the composition of every logged step of a hf_cb record (``data`` as loaded)."""
    case = str(data.get("case", "record"))
    if data.get("engine") != "hf_cb":
        return ServedSteps(case, [], 0, {"no step log": 1})
    col = step_log_columns(data.get("steps"))
    if col is None:
        return ServedSteps(case, [], 0, {"no step log": 1})
    if not col:
        return ServedSteps(case, [], 0, {"step log columns differ": 1})
    count = len(col["t_start_s"])
    if data.get("preempted_requests") or col["n_preempted"].any():
        return ServedSteps(case, [], count, {"run preempted": count})
    starts = col["t_start_s"]
    decodes: list[list[int]] = [[] for _ in range(count)]
    finishing: list[set[int]] = [set() for _ in range(count)]
    requests = sorted(data["requests"], key=lambda r: (r["arrival"], r["i"]))
    for index, request in enumerate(requests):
        times = np.asarray(request["token_times"], dtype=float)
        if len(times) == 0:
            continue
        at = np.searchsorted(starts, times, side="right") - 1
        finishing[at[0]].add(index)
        for k, step in enumerate(at[1:], start=1):
            decodes[step].append(int(request["in"]) + k - 1)
    steps, skipped = [], {}
    waiting: list[list[int]] = []  # [request index, prompt tokens left, cached so far], arrival order
    next_request = 0
    for s in range(count):
        while next_request < len(requests) and requests[next_request]["submit"] <= starts[s]:
            waiting.append([next_request, int(requests[next_request]["in"]), 0])
            next_request += 1
        budget = int(col["q_tokens"][s]) - len(decodes[s])
        chunks, done = [], set()
        for entry in waiting:
            if budget <= 0:
                break
            take = min(entry[1], budget)
            chunks.append((take, entry[2]))
            entry[1] -= take
            entry[2] += take
            budget -= take
            if entry[1] == 0:
                done.add(entry[0])
        waiting = [entry for entry in waiting if entry[1] > 0]
        reason = _mismatch(col, s, decodes[s], chunks, budget, done, finishing[s])
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        wall = float(col["prepare_s"][s] + col["forward_s"][s] + col["update_s"][s])
        steps.append(served_step(tuple(chunks), decodes[s], wall))
    return ServedSteps(case, steps, count, skipped)


def step_log_columns(log) -> dict[str, np.ndarray] | None:
    """A record's step log as one array per column of STEP_LOG_COLUMNS (a log without the last,
    preemption column reads it as zeros); None without a log, {} for a log of other columns.
    Raises ValueError naming the row and field of a row that is not finite numbers in order."""
    if not isinstance(log, dict) or not log.get("rows"):
        return None
    columns = list(log.get("columns", STEP_LOG_COLUMNS))
    if columns != list(STEP_LOG_COLUMNS[:len(columns)]) or len(columns) < len(STEP_LOG_COLUMNS) - 1:
        return {}
    _check_rows(log["rows"], columns)
    rows = np.pad(np.array(log["rows"], dtype=float), ((0, 0), (0, len(STEP_LOG_COLUMNS) - len(columns))))
    return {name: rows[:, i] for i, name in enumerate(STEP_LOG_COLUMNS)}


def _check_rows(rows, columns: list) -> None:
    """Every row a list of finite numbers, one per column, starts in order (else ValueError naming it)."""
    if not isinstance(rows, list):
        raise ValueError("steps.rows: must be a list of rows")
    last_start = float("-inf")
    for index, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns) or not all(_finite(v) for v in row):
            raise ValueError(f"steps.rows[{index}]: must be a list of {len(columns)} finite numbers "
                             f"({', '.join(str(c) for c in columns)})")
        if row[0] < last_start:
            raise ValueError(f"steps.rows[{index}].t_start_s: {row[0]} is before the previous step's start")
        last_start = row[0]


def _finite(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 2 ** 53  # exact as a float
    return isinstance(value, float) and math.isfinite(value)


def _mismatch(col, s, contexts, chunks, budget_left, done, finishing) -> str:
    if len(contexts) != int(col["n_decode"][s]):
        return "decode count differs from the log"
    if budget_left != 0:
        return "prompt tokens differ from the log"
    if len(contexts) + len(chunks) != int(col["n_req"][s]):
        return "request count differs from the log"
    if done != finishing:
        return "prompts finishing differ from the token times"
    return ""


def served_step(chunks: tuple, contexts: list[int], wall_s: float) -> StepRecord:
    """One served step as a profile row: its prompt chunks (new, cached), decode contexts and time."""
    kind = "decode" if not chunks else ("prefill" if not contexts else "mixed")
    return StepRecord(
        kind=kind, prefill_chunks=chunks, decode_count=len(contexts), decode_context_sum=sum(contexts),
        decode_context_max=max(contexts, default=0), wall_s=wall_s, wall_p10_s=wall_s, wall_p90_s=wall_s,
        gpu_s=wall_s, gpu_p10_s=wall_s, gpu_p90_s=wall_s, repeats=1, status="ok", note="served",
        wall_mean_s=wall_s, gpu_mean_s=wall_s, wall_samples_s=(wall_s,))
