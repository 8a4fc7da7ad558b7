"""Writing figures: every plot is saved as PNG (raster, for chat and docs) and SVG (vector).

Figures are built as ``matplotlib.figure.Figure`` objects, never through pyplot, so no global
figure list grows and no interactive backend is touched; PNG is rendered by Agg.
"""
from __future__ import annotations

from pathlib import Path

from batchsim.atomic import atomic_files

PNG_DPI = 150


def save_figure(figure, out_dir: str, name: str) -> list[Path]:
    """Write ``name``.png and ``name``.svg under ``out_dir``, both or neither (atomically);
    return the paths."""
    directory = Path(out_dir)
    paths = [directory / f"{name}.png", directory / f"{name}.svg"]
    with atomic_files(paths) as (png, svg):
        figure.savefig(png, dpi=PNG_DPI, format="png")
        figure.savefig(svg, format="svg")
    return paths


def scenario_title(frame_or_summary) -> str:
    """'llama-3-8b on h200' from a results table or a summary, as far as it says; for a
    results table also the trace and cost model when all its rows share them."""
    def first(key):
        value = frame_or_summary.get(key) if isinstance(frame_or_summary, dict) else (
            frame_or_summary[key].iloc[0] if key in frame_or_summary else None)
        return None if value is None or value != value else value
    model, gpu, tp = first("model"), first("gpu"), first("tensor_parallel_size")
    parts = [str(model) if model else "", f"on {gpu}" if gpu else ""]
    if tp and int(tp) > 1:
        parts.append(f"x{int(tp)} (TP)")
    title = " ".join(p for p in parts if p)
    for key in ("trace", "cost_model"):  # named when every row shares one
        if isinstance(frame_or_summary, dict) or key not in frame_or_summary:
            continue
        values = frame_or_summary[key].dropna().unique()
        if len(values) == 1:
            title += f", {values[0]}"
    return title
