"""Output tokens per second against the batch limit, one line per policy (and per value of any
other setting that varies).

The static-against-continuous chart: static batching's throughput plateaus because every batch
runs as long as its longest request, continuous batching's climbs toward what the hardware
can do as the batch limit grows.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from batchsim.plots.extrapolated import mark_extrapolated
from batchsim.plots.save import scenario_title
from batchsim.plots.series import group_label, line_groups

POLICY_STYLE = {"static": ("tab:red", "s"), "continuous": ("tab:blue", "o"),
                "chunked": ("tab:green", "^")}


def policy_style(policy: str) -> tuple[str, str]:
    """Colour and marker of a policy, the same in every figure."""
    return POLICY_STYLE.get(policy, ("tab:gray", "D"))


def throughput_vs_batch(frame, x: str = "slots", context: str = "") -> Figure:
    """Figure of ``output_throughput`` against ``x`` (a sweep results table), per policy."""
    for column in (x, "policy", "output_throughput"):
        if column not in frame:
            raise ValueError(f"results table has no '{column}' column")
    figure = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = figure.add_subplot()
    # the batch limit is the x axis, so the knobs that set it do not split lines
    by = line_groups(frame, exclude=(x, "batch", "batch_size", "max_num_seqs"))
    for keys, rows in frame.groupby(by, sort=False, dropna=False):
        rows = rows.sort_values(x)
        colour, marker = policy_style(rows["policy"].iloc[0])
        ax.plot(rows[x], rows["output_throughput"], marker=marker,
                color=colour if by == ["policy"] else None, label=group_label(keys, by))
        mark_extrapolated(ax, rows, x, rows["output_throughput"])
    ax.set_xscale("log", base=2)
    ticks = sorted(frame[x].unique())
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel({"slots": "batch limit (static: batch_size; others: max_num_seqs)",
                   "batch": "batch limit (batch_size = max_num_seqs)"}.get(x, x))
    ax.set_ylabel("output throughput (tokens/s)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(title=", ".join(by))
    title = "Output throughput against batch limit"
    ax.set_title(f"{title}\n{context or scenario_title(frame)}")
    return figure
