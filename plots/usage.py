"""KV-cache usage and queue length over time, from a replay's per-step table (steps.csv).

Each step row records, as the step (or run of identical decode steps) starts, the KV blocks in
use and the requests waiting on its replica; the figure draws them as step functions, one line
per replica. KV usage is a fraction of the replica's capacity when it is known.
"""
from __future__ import annotations

from matplotlib.figure import Figure

MAX_REPLICAS_DRAWN = 8


def kv_and_queue(steps, kv_capacity_blocks: int | None = None, context: str = "") -> Figure:
    """Two stacked panels sharing time: KV usage and requests waiting, per replica."""
    for column in ("replica", "start_s", "kv_blocks_used", "waiting"):
        if column not in steps:
            raise ValueError(f"steps table has no '{column}' column")
    figure = Figure(figsize=(10, 6), layout="constrained")
    kv_ax, queue_ax = figure.subplots(2, 1, sharex=True)
    replicas = sorted(steps["replica"].unique())[:MAX_REPLICAS_DRAWN]
    for replica in replicas:
        rows = steps[steps["replica"] == replica].sort_values("start_s", kind="stable")
        kv = rows["kv_blocks_used"]
        if kv_capacity_blocks:
            kv = kv / kv_capacity_blocks
        kv_ax.plot(rows["start_s"], kv, drawstyle="steps-post", label=f"replica {replica}")
        queue_ax.plot(rows["start_s"], rows["waiting"], drawstyle="steps-post",
                      label=f"replica {replica}")
    if kv_capacity_blocks:
        kv_ax.set_ylabel("KV cache used (fraction of capacity)")
        kv_ax.set_ylim(0, 1.02)
    else:
        kv_ax.set_ylabel("KV cache used (blocks)")
    kv_ax.set_title("KV-cache usage")
    queue_ax.set_ylabel("requests waiting")
    queue_ax.set_xlabel("time (s)")
    queue_ax.set_title("Queue length")
    for ax in (kv_ax, queue_ax):
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    shown = "" if len(steps["replica"].unique()) <= MAX_REPLICAS_DRAWN else \
        f" (first {MAX_REPLICAS_DRAWN} replicas)"
    figure.suptitle(f"KV cache and queue over time{shown}" + (f": {context}" if context else ""))
    return figure
