"""Rate curves for synthetic arrivals: a CSV ``start_s,rate_per_s``, one row per window."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from batchsim.traces.errors import TraceError
from batchsim.traces.readers.csvio import iter_chunks
from batchsim.traces.rows import RowChecker, parse_float


def read_rate_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a rate curve CSV ``start_s,rate_per_s`` (one row per window, starts increasing)."""
    path = Path(path)
    notes: list[str] = []
    starts, rates = [], []
    for chunk, lines in iter_chunks(path, ["start_s", "rate_per_s"], skip_bad=False, notes=notes):
        checker = RowChecker(path.name, lines)
        start = parse_float(chunk["start_s"], "start_s", checker)
        rate = parse_float(chunk["rate_per_s"], "rate_per_s", checker)
        checker.flag(rate < 0, "rate_per_s", lambda i: f"{rate[i]:g} is a negative rate")
        checker.flag(np.append(False, np.diff(start) <= 0), "start_s",
                     lambda i: f"{start[i]:g} does not increase")
        checker.resolve(False, notes)
        starts.append(start)
        rates.append(rate)
    if notes or not starts or not len(starts[0]):
        raise TraceError(f"{path.name}: needs at least one window and no blank rows")
    return np.concatenate(starts), np.concatenate(rates)
