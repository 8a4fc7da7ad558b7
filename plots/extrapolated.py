"""Marks for sweep points whose steps went beyond the profile's measured range.

A sweep row's ``extrapolated_share`` (planning.sweep) is the fraction of its steps priced
outside the range the profile measured; any point with a share above zero gets a hollow ring
drawn around its marker, so extrapolated numbers never look like measured ones.
"""
from __future__ import annotations

import numpy as np

LABEL = "beyond the profile's measured range"


def mark_extrapolated(ax, rows, x: str, y_values) -> None:
    """Ring the points of ``rows`` (a sweep table) that extrapolated; label the first ring."""
    if "extrapolated_share" not in rows:
        return
    beyond = np.asarray(rows["extrapolated_share"].fillna(0.0), dtype=float) > 0
    if not beyond.any():
        return
    labelled = LABEL in ax.get_legend_handles_labels()[1]
    ax.scatter(np.asarray(rows[x])[beyond], np.asarray(y_values)[beyond], s=160,
               facecolors="none", edgecolors="black", linewidths=1.2, zorder=3,
               label=None if labelled else LABEL)
