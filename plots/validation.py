"""Real against simulated latency CDFs for one recorded run.

TTFT and E2E are drawn in seconds and TPOT in milliseconds, each on the scale
plots.series.METRIC_SCALE gives it, with P50 and P99 marked and few, plainly formatted ticks
(an hour-long overloaded run spans 0.01 to 1,000 s of TTFT).
"""
from __future__ import annotations

from matplotlib.figure import Figure

from batchsim.plots.cdf import cdf_line, finish_cdf_axis

PANELS = (("ttft", "TTFT", "s", 1e-3), ("tpot", "TPOT", "ms", 1.0), ("e2e", "E2E latency", "s", 1e-3))


def validation_cdfs(case: str, real: dict, simulated: dict, context: str = "") -> Figure:
    """A figure with TTFT, TPOT and E2E CDFs, real (solid) against simulated (dashed).

    ``real`` and ``simulated`` map 'ttft', 'tpot', 'e2e' to arrays of milliseconds;
    ``context`` (the simulated policy and cost model) goes into the title.
    """
    figure = Figure(figsize=(13, 4.2), layout="constrained")
    for ax, (key, name, unit, factor) in zip(figure.subplots(1, 3), PANELS):
        cdf_line(ax, real[key] * factor, "real engine", linestyle="-", color="tab:blue")
        cdf_line(ax, simulated[key] * factor, "batchsim", linestyle="--", color="tab:orange")
        finish_cdf_axis(ax, key, name, unit)
    figure.suptitle(f"Fidelity: {case}" + (f" ({context})" if context else ""))
    return figure
