"""Per-second peaks as vLLM's serving benchmark defines them: ``max_output_tokens_per_s`` and
``max_concurrent_requests``.

Both bucket time into whole seconds counted from the earliest arrival of a finished request.
A token counts in the second in which it is sampled (the end of its step); a run of identical
decode steps, recorded as one row, spreads its tokens evenly over its steps' end times. A
request counts as concurrent in every second from the one it arrives in to the one it finishes
in, both included, so the peak is the most requests active during any one second (not at one
instant). Rejected requests are left out; batchsim rejects before a request is scheduled, so
every sampled token belongs to a finished request.
"""
from __future__ import annotations

import numpy as np


def peak_output_tokens_per_s(steps: dict[str, np.ndarray], start_s: float) -> float:
    """The most tokens sampled in one second-long bucket counted from ``start_s``."""
    tokens = output_tokens_by_second(steps, start_s)
    return float(tokens.max()) if tokens.size else 0.0


def output_tokens_by_second(steps: dict[str, np.ndarray], start_s: float) -> np.ndarray:
    """Tokens sampled in each second-long bucket counted from ``start_s`` (bucket i at [i]);
    buckets of several row sets add up, so a run streamed in chunks sums them."""
    sampled = steps["sampled_tokens"].astype(np.float64)
    rows = np.flatnonzero(sampled > 0)
    if rows.size == 0:
        return np.zeros(0)
    count = steps["steps"][rows]
    begin_s = steps["start_s"][rows] - start_s
    duration_s = steps["duration_s"][rows]

    def end_s(j, row=slice(None)):  # end of step j (1-based) of each row: one float expression
        return begin_s[row] + j * duration_s[row] / count[row]

    # token k of a row ends at end_s(k + 1): pair each row with every bucket it spans (one for a
    # single step) rather than expanding runs of millions of steps token by token
    first = np.floor(end_s(1)).astype(np.int64)
    last = np.floor(end_s(count)).astype(np.int64)
    spans = last - first + 1
    row = np.repeat(np.arange(rows.size), spans)
    offset = np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans, spans)
    bucket = first[row] + offset

    def ended_before(edge_s):  # steps of the row that end before edge_s
        with np.errstate(divide="ignore", invalid="ignore"):
            done = np.ceil((edge_s - begin_s[row]) * count[row] / duration_s[row]) - 1
        done = np.clip(np.nan_to_num(done), 0, count[row])
        # the division above may land one step off an edge that a step's end time meets
        # exactly in floating point: settle against the end times themselves
        done = np.where((done < count[row]) & (end_s(done + 1, row) < edge_s), done + 1, done)
        return np.where((done > 0) & (end_s(done, row) >= edge_s), done - 1, done)

    low = np.where(offset == 0, 0, ended_before(bucket.astype(np.float64)))
    high = np.where(bucket == last[row], count[row], ended_before(bucket + 1.0))
    tokens = (high - low) * sampled[rows][row] / count[row]
    keep = bucket >= 0
    return np.bincount(bucket[keep], weights=tokens[keep]) if keep.any() else np.zeros(0)


def peak_concurrent_requests(arrival_s: np.ndarray, finish_s: np.ndarray) -> int:
    """The most finished requests active during any one second-long bucket."""
    if arrival_s.size == 0:
        return 0
    change = concurrency_changes(arrival_s, finish_s, float(arrival_s.min()))
    return int(np.cumsum(change).max())


def concurrency_changes(arrival_s: np.ndarray, finish_s: np.ndarray, start_s: float) -> np.ndarray:
    """Per second-long bucket from ``start_s``: requests that become active minus those that
    stopped (their running sum is the concurrency; chunks of requests add up)."""
    if arrival_s.size == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.floor(arrival_s - start_s).astype(np.int64)
    last = np.floor(finish_s - start_s).astype(np.int64)
    change = np.zeros(int(last.max()) + 2, dtype=np.int64)
    np.add.at(change, first, 1)
    np.add.at(change, last + 1, -1)
    return change
