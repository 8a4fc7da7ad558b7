"""Arrival processes for synthetic load: arrival times in seconds, sorted, first at >= 0.

Renewal processes (Poisson, Gamma) put the first request at 0 s, the convention of replayed
traces (seconds since the first request); the rate curve is a piecewise-constant Poisson process
on its own clock.
"""
from __future__ import annotations

import numpy as np

from batchsim.traces.errors import TraceError


def gamma_arrivals(rate_per_s: float, cv: float, rng: np.random.Generator, *,
                   duration_s: float | None = None, count: int | None = None) -> np.ndarray:
    """Gamma renewal process: mean gap 1/rate, gap coefficient of variation ``cv``.

    cv = 1 is Poisson; cv > 1 is burstier. Give ``duration_s`` (arrivals in [0, duration_s))
    or ``count``.
    """
    if not rate_per_s > 0 or not cv > 0:
        raise TraceError(f"rate and cv must be positive, got rate {rate_per_s}, cv {cv}")
    shape = 1.0 / (cv * cv)
    scale = 1.0 / (rate_per_s * shape)
    if count is not None:
        gaps = rng.gamma(shape, scale, size=max(count - 1, 0))
        return np.concatenate(([0.0], np.cumsum(gaps)))[:count]
    if duration_s is None or not duration_s > 0:
        raise TraceError("give a positive duration_s or a count")
    expected = rate_per_s * duration_s
    arrivals = np.zeros(1)
    while arrivals[-1] < duration_s:  # draw in batches; rarely more than one
        batch = int(expected + 6 * cv * np.sqrt(expected) + 16)
        gaps = np.cumsum(rng.gamma(shape, scale, size=batch)) + arrivals[-1]
        arrivals = np.concatenate((arrivals, gaps))
    return arrivals[arrivals < duration_s]


def poisson_arrivals(rate_per_s: float, rng: np.random.Generator, *,
                     duration_s: float | None = None, count: int | None = None) -> np.ndarray:
    """Poisson process at ``rate_per_s`` (exponential gaps)."""
    return gamma_arrivals(rate_per_s, 1.0, rng, duration_s=duration_s, count=count)


def all_at_once(count: int) -> np.ndarray:
    """Offline batch: every request arrives at 0 s."""
    return np.zeros(count)


def rate_curve_arrivals(starts_s: np.ndarray, rates_per_s: np.ndarray, end_s: float,
                        rng: np.random.Generator) -> np.ndarray:
    """Poisson arrivals whose rate is ``rates_per_s[i]`` from ``starts_s[i]`` to the next start.

    The last window ends at ``end_s``. In each window the count is Poisson(rate * width) and
    the times are uniform within it: exactly a piecewise-constant Poisson process.
    """
    starts_s = np.asarray(starts_s, dtype=np.float64)
    rates_per_s = np.asarray(rates_per_s, dtype=np.float64)
    ends_s = np.append(starts_s[1:], end_s)
    if np.any(ends_s <= starts_s) or np.any(rates_per_s < 0) or starts_s[0] < 0:
        raise TraceError("rate curve needs increasing window starts >= 0, rates >= 0 and an end "
                         "after the last start")
    counts = rng.poisson(rates_per_s * (ends_s - starts_s))
    lows = np.repeat(starts_s, counts)
    widths = np.repeat(ends_s - starts_s, counts)
    return np.sort(lows + widths * rng.random(int(counts.sum())))
