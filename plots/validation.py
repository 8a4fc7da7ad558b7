"""Real against simulated latency CDFs for one recorded run."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _cdf(ax, values_ms, label, style):
    values = np.sort(np.asarray(values_ms, dtype=float))
    if values.size:
        ax.plot(values, np.arange(1, values.size + 1) / values.size, style, label=label)


def validation_cdfs(case: str, real: dict, simulated: dict):
    """A figure with TTFT, TPOT and E2E CDFs, real (solid) against simulated (dashed).

    ``real`` and ``simulated`` map 'ttft', 'tpot', 'e2e' to arrays of milliseconds.
    """
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, key, title in zip(axes, ("ttft", "tpot", "e2e"), ("TTFT", "TPOT", "E2E latency")):
        _cdf(ax, real[key], "real engine", "-")
        _cdf(ax, simulated[key], "batchsim", "--")
        ax.set_xlabel(f"{title} (ms)")
        ax.set_ylabel("fraction of requests")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"Fidelity: {case}")
    fig.tight_layout()
    return fig
