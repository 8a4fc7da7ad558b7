"""Which batch slot each request occupied, inferred from per-request times (no plotting here).

A request holds a slot from admission (arrival + queueing delay) to its finish. Under static
batching the requests admitted together form one batch whose slots stay taken until the batch's
longest request finishes: the time between a request's own finish and its batch's end is a held
but idle slot (padding). Slots are assigned greedily in admission order, lowest free slot first,
which reproduces a fixed-size batch's rows. Preempted requests are drawn from their first
admission to their finish. Times are seconds.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class SlotBar:
    """One request's occupancy of one slot."""

    request_id: object
    slot: int
    start_s: float  # admission
    finish_s: float  # the request's last token
    release_s: float  # when the slot becomes free (batch end under static batching)


TIME_TOLERANCE = 1e-6  # relative: requests.csv keeps 9 significant digits


def assign_slots(requests, static: bool) -> list[SlotBar]:
    """Slot bars for one replica's finished requests (a requests.csv-style table)."""
    done = requests[requests["status"] == "finished"] if "status" in requests else requests
    start = (done["arrival_s"] + done["queue_s"]).to_numpy(dtype=float)
    finish = done["finish_s"].to_numpy(dtype=float)
    release = _batch_ends(start, finish) if static else finish.copy()
    order = np.lexsort((finish, start))
    ids = done["request_id"].to_numpy()
    free: list[int] = []
    busy: list[tuple[float, int]] = []
    bars = []
    opened = 0
    for i in order:
        # a slot freed "at" this admission counts as free despite rounding in the inputs
        while busy and busy[0][0] <= start[i] + TIME_TOLERANCE * max(1.0, abs(start[i])):
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            slot = heapq.heappop(free)
        else:
            slot, opened = opened, opened + 1
        heapq.heappush(busy, (release[i], slot))
        bars.append(SlotBar(ids[i], slot, float(start[i]), float(finish[i]), float(release[i])))
    return bars


def _batch_ends(start: np.ndarray, finish: np.ndarray) -> np.ndarray:
    """Each request's batch end: the latest finish among requests admitted with it."""
    order = np.argsort(start, kind="stable")
    gaps = np.diff(start[order]) > TIME_TOLERANCE * np.maximum(1.0, np.abs(start[order][1:]))
    group = np.empty(start.size, dtype=np.int64)
    group[order] = np.concatenate(([0], np.cumsum(gaps))) if start.size else []
    ends = np.zeros(group.max() + 1 if start.size else 0)
    np.maximum.at(ends, group, finish)
    return ends[group]


def first_admitted(requests, count: int):
    """The ``count`` finished requests admitted first (a readable timeline holds a few dozen)."""
    done = requests[requests["status"] == "finished"] if "status" in requests else requests
    admitted = done["arrival_s"] + done["queue_s"]
    return done.loc[admitted.sort_values(kind="stable").index[:count]]
