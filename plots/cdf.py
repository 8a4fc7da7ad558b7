"""Drawing one latency CDF panel: the curves, their P50 and P99 marked, the SLO as a line.

Percentiles are numpy's linear interpolation, as the summaries compute them. Axes follow
plots.series.METRIC_SCALE (the same scale for a metric in every figure) with at most
``MAX_TICKS`` labelled ticks in plain numbers, so labels never run together.
"""
from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import LogLocator, MaxNLocator, FuncFormatter

from batchsim.plots.series import METRIC_SCALE

MAX_TICKS = 6
MARKERS = ((50.0, "o", "P50"), (99.0, "v", "P99"))


def cdf_line(ax, values, label: str, **style):
    """The empirical CDF of ``values`` as a step line; None when there are none."""
    values = np.sort(np.asarray(values, dtype=float))
    values = values[~np.isnan(values)]
    if not values.size:
        return None
    (line,) = ax.plot(values, np.arange(1, values.size + 1) / values.size, label=label,
                      drawstyle="steps-post", **style)
    for q, marker, _ in MARKERS:
        ax.scatter([np.percentile(values, q)], [q / 100.0], marker=marker, s=36, zorder=3,
                   color=line.get_color(), edgecolors="black", linewidths=0.5)
    return line


def slo_line(ax, limit, name: str, unit: str) -> None:
    """The objective as a dashed vertical line at ``limit`` (in the axis' unit)."""
    ax.axvline(limit, color="black", linestyle="--", linewidth=1,
               label=f"SLO {name} = {limit:g} {unit}")


def finish_cdf_axis(ax, metric: str, name: str, unit: str) -> None:
    """Scale, ticks, labels and a legend with the percentile markers explained."""
    if METRIC_SCALE[metric] == "log" and all(min(l.get_xdata()) > 0 for l in _curves(ax)):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, numticks=MAX_TICKS))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(MAX_TICKS))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.4g}"))
    ax.set_xlabel(f"{name} ({unit})")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.01)
    ax.set_title(f"CDF of {name}")
    ax.grid(alpha=0.3, which="both")
    handles, labels = ax.get_legend_handles_labels()
    for _, marker, text in MARKERS:
        handles.append(Line2D([], [], marker=marker, linestyle="", color="gray",
                              markeredgecolor="black"))
        labels.append(text)
    ax.legend(handles, labels, fontsize=8)


def _curves(ax):
    return [line for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]
