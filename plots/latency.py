"""Latency figures: P99 latency against request rate (with the SLO), and latency CDFs.

Latencies are plotted in seconds (TTFT, E2E) or milliseconds (TPOT), as the objectives are
usually written, each on the scale plots.series.METRIC_SCALE gives it.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from batchsim.plots.cdf import cdf_line, finish_cdf_axis, slo_line
from batchsim.plots.extrapolated import mark_extrapolated
from batchsim.plots.save import scenario_title
from batchsim.plots.series import METRIC_SCALE, group_label, line_groups
from batchsim.plots.throughput import POLICY_STYLE, policy_style

CDF_METRICS = (("ttft_s", "TTFT", 1.0, "s"), ("tpot_s", "TPOT", 1000.0, "ms"),
               ("e2e_s", "E2E latency", 1.0, "s"))


def latency_vs_rate(frame, slo_s: dict | None = None, by=None, context: str = "") -> Figure:
    """P99 TTFT and P99 E2E against the offered request rate, one line per ``by`` group
    (default: policy and every other setting that varies, the rate aside).

    ``slo_s`` maps 'ttft' and/or 'e2e' to a limit in seconds, drawn as a dashed line.
    """
    x = "offered_rate_per_s" if "offered_rate_per_s" in frame else "request_throughput"
    by = list(by) if by else line_groups(frame, exclude=("rate_scale",))
    for column in (x, "p99_ttft_ms", "p99_e2el_ms", *by):
        if column not in frame:
            raise ValueError(f"results table has no '{column}' column")
    slo_s = slo_s or {}
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    axes = figure.subplots(1, 2)
    for ax, key, metric in ((axes[0], "p99_ttft_ms", "ttft"), (axes[1], "p99_e2el_ms", "e2e")):
        for keys, rows in frame.groupby(by, sort=False, dropna=False):
            rows = rows.sort_values(x)
            colour, marker = policy_style(rows["policy"].iloc[0] if "policy" in rows else "")
            style = dict(color=colour) if by == ["policy"] else {}
            ax.plot(rows[x], rows[key] / 1000.0, marker=marker, label=group_label(keys, by),
                    **style)
            mark_extrapolated(ax, rows, x, rows[key] / 1000.0)
        name = "TTFT" if metric == "ttft" else "E2E latency"
        if metric in slo_s:
            ax.axhline(slo_s[metric], color="black", linestyle="--",
                       label=f"SLO {name} P99 = {slo_s[metric]:g} s")
        ax.set_xlabel("offered request rate (requests/s)" if x == "offered_rate_per_s"
                      else "request throughput (requests/s)")
        ax.set_ylabel(f"P99 {name} (s)")
        ax.set_yscale(METRIC_SCALE[metric])
        ax.set_title(f"P99 {name} against request rate")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    figure.suptitle(f"Latency against load: {context or scenario_title(frame)}")
    return figure


def latency_cdfs(runs: dict, context: str = "", slo_s: dict | None = None) -> Figure:
    """CDFs of TTFT, TPOT and E2E, one line per run (label -> requests table), P50 and P99
    marked on each; ``slo_s`` maps 'ttft', 'tpot', 'e2e' to limits in seconds, drawn as lines.
    """
    slo_s = slo_s or {}
    figure = Figure(figsize=(13, 4.2), layout="constrained")
    axes = figure.subplots(1, 3)
    for ax, (column, name, factor, unit) in zip(axes, CDF_METRICS):
        metric = column.removesuffix("_s")
        for label, requests in runs.items():
            done = requests[requests["status"] == "finished"] if "status" in requests else requests
            colour = POLICY_STYLE[label][0] if label in POLICY_STYLE else None
            cdf_line(ax, done[column].to_numpy(dtype=float) * factor, str(label), color=colour)
        if metric in slo_s:
            slo_line(ax, slo_s[metric] * factor, name, unit)
        finish_cdf_axis(ax, metric, name, unit)
    figure.suptitle(f"Latency distributions: {context}" if context else "Latency distributions")
    return figure
