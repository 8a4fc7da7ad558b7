"""Cutting a trace into fixed windows of time, each re-based to start at 0 s."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from batchsim.limits import DEFAULT_LIMITS, Limits
from batchsim.traces.columns import is_columns, num_rows, take_rows, with_arrivals


@dataclass(frozen=True)
class Window:
    """Requests arriving in [start_s, end_s) of the trace, arrivals re-based to the start."""

    index: int
    start_s: float
    end_s: float
    table: object  # canonical table, in the form of the one split (traces.columns)

    @property
    def requests(self) -> int:
        """Requests arriving in the window."""
        return num_rows(self.table)

    @property
    def rate_per_s(self) -> float:
        """Mean arrival rate over the window's length."""
        return self.requests / (self.end_s - self.start_s)


def split_windows(table, window_s: float, limits: Limits = DEFAULT_LIMITS) -> list[Window]:
    """Consecutive windows of ``window_s`` seconds from the first arrival to the last.

    The window count is checked against ``limits.windows`` before any window is built.
    """
    if not 0 < window_s < np.inf:
        raise ValueError(f"window length must be positive and finite, got {window_s}")
    arrival = np.asarray(table["arrival_s"], dtype=float)
    if arrival.size == 0:
        return []
    origin_s = float(arrival.min())
    span_windows = (float(arrival.max()) - origin_s) / window_s
    limits.check("windows", span_windows + 1, f"windows of {window_s:g} s over the trace")
    index = ((arrival - origin_s) // window_s).astype(np.int64)
    order = np.argsort(index, kind="stable")
    count = int(index.max()) + 1
    bounds = np.searchsorted(index[order], np.arange(count + 1))
    windows = []
    for i in range(count):
        start_s = origin_s + i * window_s
        rows = take_rows(table, order[bounds[i]:bounds[i + 1]])
        rows = with_arrivals(rows, rows["arrival_s"] - start_s)
        if not is_columns(rows):
            rows = rows.reset_index(drop=True)
        windows.append(Window(i, start_s, start_s + window_s, rows))
    return windows
