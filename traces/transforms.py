"""Transforms on canonical tables (arrival_s in seconds, token counts in tokens).

Each takes a canonical table and returns ``(new_table, note)``; the note counts what changed so
that a caller can add it to ``LoadedTrace.notes``. Tables stay sorted by arrival.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from batchsim.traces.columns import is_columns
from batchsim.traces.errors import TraceError

if TYPE_CHECKING:  # tables are DataFrames; limit and scale_rate also take numpy columns
    import pandas as pd


def spread_ties(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Spread requests sharing one timestamp evenly over the gap to the next distinct one.

    Bucketed timestamps (Mooncake's ~3 s) would otherwise release each bucket as one burst.
    The last bucket uses the median gap between distinct timestamps as its width.
    """
    arrival = table["arrival_s"].to_numpy(dtype=np.float64)
    times, first, counts = np.unique(arrival, return_index=True, return_counts=True)
    tied = int(counts[counts > 1].sum())
    if tied == 0 or len(times) < 2:
        return table, "spread ties: no equal timestamps to spread" if tied == 0 else \
            "spread ties: all requests share one timestamp; left as is"
    gaps = np.diff(times)
    widths = np.append(gaps, np.median(gaps))
    group = np.repeat(np.arange(len(times)), counts)
    rank = np.arange(len(arrival)) - np.repeat(first, counts)
    out = table.copy()
    out["arrival_s"] = times[group] + widths[group] * rank / counts[group]
    groups = int((counts > 1).sum())
    return out, (f"spread {tied} requests sharing {groups} timestamps evenly over the gap to "
                 "the next timestamp")


def limit(table: pd.DataFrame, count: int) -> tuple[pd.DataFrame, str]:
    """Keep the first ``count`` requests by arrival."""
    if count < 1:
        raise TraceError(f"--limit must be >= 1, got {count}")
    if is_columns(table):
        kept = {name: column[:count] for name, column in table.items()}
        total, kept_count = len(table["arrival_s"]), len(kept["arrival_s"])
    else:
        kept = table.iloc[:count].reset_index(drop=True)
        total, kept_count = len(table), len(kept)
    return kept, f"limit: kept the first {kept_count} of {total} requests"


def window_time(table: pd.DataFrame, start_s: float, end_s: float) -> tuple[pd.DataFrame, str]:
    """Keep requests arriving in [start_s, end_s) and rebase arrivals to start at 0 s."""
    if not 0 <= start_s < end_s:
        raise TraceError(f"time window needs 0 <= start < end, got {start_s}s:{end_s}s")
    arrival = table["arrival_s"].to_numpy()
    inside = (arrival >= start_s) & (arrival < end_s)
    kept = table.loc[inside].reset_index(drop=True)
    kept["arrival_s"] = kept["arrival_s"] - start_s
    return kept, (f"window {start_s:g}s:{end_s:g}s kept {len(kept)} of {len(table)} requests, "
                  f"arrivals rebased by -{start_s:g} s")


def window_index(table: pd.DataFrame, start: int, stop: int) -> tuple[pd.DataFrame, str]:
    """Keep requests ``start`` to ``stop - 1`` (in arrival order), arrivals rebased to 0 s."""
    if not 0 <= start < stop:
        raise TraceError(f"index window needs 0 <= start < stop, got {start}:{stop}")
    kept = table.iloc[start:stop].reset_index(drop=True)
    if kept.empty:
        raise TraceError(f"index window {start}:{stop} is past the last request ({len(table)})")
    shift_s = float(kept["arrival_s"].iloc[0])
    kept["arrival_s"] = kept["arrival_s"] - shift_s
    return kept, (f"window rows {start}:{stop} kept {len(kept)} of {len(table)} requests, "
                  f"arrivals rebased by -{shift_s:g} s")


def scale_rate(table: pd.DataFrame, factor: float) -> tuple[pd.DataFrame, str]:
    """Multiply the request rate by ``factor`` (arrival times divided by it)."""
    if not factor > 0 or not np.isfinite(factor):
        raise TraceError(f"--rate-scale must be a positive number, got {factor}")
    out = dict(table) if is_columns(table) else table.copy()
    out["arrival_s"] = out["arrival_s"] / factor
    return out, f"rate scaled by {factor:g} (arrival times divided by {factor:g})"


def clip_to_max_len(table: pd.DataFrame, max_len: int,
                    block_tokens: int | None = None) -> tuple[pd.DataFrame, str]:
    """Fit each request into ``max_len`` tokens (prompt + output), as a server would require.

    A prompt of ``max_len`` or more is cut to ``max_len - 1`` (room for one output token), its
    prefix block ids trimmed to match; then the output is cut to ``max_len - prompt``.
    """
    if max_len < 2:
        raise TraceError(f"--clip-to-max-len must be >= 2, got {max_len}")
    out = table.copy()
    prompt = out["prompt_tokens"].to_numpy()
    long_prompt = prompt > max_len - 1
    prompt = np.minimum(prompt, max_len - 1)
    output = out["output_tokens"].to_numpy()
    long_output = output > max_len - prompt
    out["prompt_tokens"] = prompt
    out["output_tokens"] = np.minimum(output, max_len - prompt)
    if long_prompt.any() and "prefix_block_ids" in out.columns and block_tokens:
        blocks = -(-prompt // block_tokens)
        out["prefix_block_ids"] = [ids[:n] for ids, n in zip(out["prefix_block_ids"], blocks)]
    clipped = int((long_prompt | long_output).sum())
    return out, (f"clipped {clipped} requests to max_model_len {max_len} "
                 f"({int(long_prompt.sum())} prompts cut, {int(long_output.sum())} outputs cut)")


def sample(table: pd.DataFrame, count: int, rng: np.random.Generator) -> tuple[pd.DataFrame, str]:
    """Keep ``count`` requests chosen uniformly without replacement, in arrival order."""
    if count < 1:
        raise TraceError(f"--sample must be >= 1, got {count}")
    if count >= len(table):
        return table, f"sample: asked for {count}, kept all {len(table)} requests"
    chosen = np.sort(rng.choice(len(table), size=count, replace=False))
    return (table.iloc[chosen].reset_index(drop=True),
            f"sampled {count} of {len(table)} requests")
