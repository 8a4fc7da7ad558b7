"""The elevator picture: batch slots over time, one row per slot, one coloured bar per request.

Panels sit side by side on one time axis (static against continuous batching on the same
requests). Under static batching a slot whose request has finished stays held, hatched grey,
until the batch's longest request ends; white space is a slot nobody holds.
"""
from __future__ import annotations

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from batchsim.plots.slots import assign_slots

PADDING_COLOUR = "0.85"


def slot_timeline(panels: list[tuple[str, object, int, bool]], context: str = "") -> Figure:
    """Figure with one panel per (title, requests table, slot count, static?) entry."""
    if not panels:
        raise ValueError("slot timeline needs at least one run")
    figure = Figure(figsize=(6.5 * len(panels), 4.8), layout="constrained")
    axes = figure.subplots(1, len(panels), sharex=True, squeeze=False)[0]
    colours = _colours(panels)
    for ax, (title, requests, slots, static) in zip(axes, panels):
        _draw_panel(ax, title, assign_slots(requests, static), slots, colours)
    if any(static for *_, static in panels):
        figure.legend(handles=[Patch(facecolor="tab:blue", edgecolor="black",
                                     label="request running (colour and number per request)"),
                               Patch(facecolor=PADDING_COLOUR, hatch="//", edgecolor="0.6",
                                     label="slot held after its request finished (padding)"),
                               Patch(facecolor="white", edgecolor="0.6", label="slot idle")],
                      loc="outside lower center", ncols=3, fontsize=9)
    figure.suptitle("Batch slot occupancy over time" + (f": {context}" if context else ""))
    return figure


def _draw_panel(ax, title: str, bars, slots: int, colours: dict) -> None:
    rows = max([slots] + [b.slot + 1 for b in bars])
    span_s = (max((b.release_s for b in bars), default=0.0)
              - min((b.start_s for b in bars), default=0.0))
    for bar in bars:
        ax.barh(bar.slot, bar.finish_s - bar.start_s, left=bar.start_s, height=0.8,
                color=colours[bar.request_id], edgecolor="black", linewidth=0.4)
        if bar.finish_s - bar.start_s > 0.04 * span_s:
            ax.text((bar.start_s + bar.finish_s) / 2, bar.slot, str(bar.request_id),
                    ha="center", va="center", fontsize=7)
        if bar.release_s > bar.finish_s:
            ax.barh(bar.slot, bar.release_s - bar.finish_s, left=bar.finish_s, height=0.8,
                    color=PADDING_COLOUR, hatch="//", edgecolor="0.6", linewidth=0.4)
    held = sum(b.release_s - b.start_s for b in bars)
    useful = sum(b.finish_s - b.start_s for b in bars)
    padding = f", padding {1 - useful / held:.0%} of held slot-time" if held > useful else ""
    ax.set_title(f"{title}\n{len(bars)} requests{padding}")
    every = -(-rows // 16)  # at most 16 labels
    ax.set_yticks(range(0, rows, every), [f"slot {i}" for i in range(0, rows, every)])
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("batch slot")
    ax.grid(axis="x", alpha=0.3)


def _colours(panels) -> dict:
    """The same colour for a request in every panel."""
    cmap = colormaps["tab20"]
    ids = []
    for _, requests, _, _ in panels:
        ids += [i for i in requests["request_id"].tolist() if i not in ids]
    return {request_id: cmap(k % 20) for k, request_id in enumerate(ids)}
