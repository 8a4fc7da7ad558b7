"""Canonical trace tables for planning tests, built directly (no trace readers involved)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def poisson_trace(count: int, rate_per_s: float, seed: int = 0, prompt=(100, 1500),
                  output=(20, 400), start_s: float = 0.0) -> pd.DataFrame:
    """``count`` requests with Poisson arrivals from ``start_s`` and uniform lengths."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / rate_per_s, count)
    gaps[0] = 0.0
    return pd.DataFrame({
        "arrival_s": start_s + np.cumsum(gaps),
        "prompt_tokens": rng.integers(prompt[0], prompt[1] + 1, count),
        "output_tokens": rng.integers(output[0], output[1] + 1, count),
        "request_id": np.arange(count),
    })


def two_phase_trace(seed: int = 0, phase_s: float = 200.0, quiet_per_s: float = 2.0,
                    busy_per_s: float = 14.0) -> pd.DataFrame:
    """A quiet phase then a busy one of ``phase_s`` seconds each: a peak that sets the count."""
    quiet = poisson_trace(int(3 * quiet_per_s * phase_s), quiet_per_s, seed, start_s=0.0)
    quiet = quiet[quiet["arrival_s"] < phase_s]
    busy = poisson_trace(int(3 * busy_per_s * phase_s), busy_per_s, seed + 1, start_s=phase_s)
    busy = busy[busy["arrival_s"] < 2 * phase_s]
    table = pd.concat([quiet, busy], ignore_index=True)
    table["request_id"] = np.arange(len(table))
    return table
