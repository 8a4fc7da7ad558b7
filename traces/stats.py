"""Descriptive statistics of a canonical trace (seconds, requests/s, tokens).

Rate is (n - 1) / (last - first arrival), the inverse of the mean inter-arrival gap. The
inter-arrival CV is std / mean of the gaps (population std). The burstiness index is
Goh and Barabasi's B = (CV - 1) / (CV + 1): 0 for Poisson, > 0 bursty, -1 periodic.
Percentiles use linear interpolation (numpy's default). Prefix reuse is the fraction of prompt
tokens in prefix blocks whose id already appeared in an earlier request (a block holds
``block_tokens`` tokens; a prompt's last block holds the remainder).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LengthStats:
    """Summary of one token-length column."""

    mean: float
    p50: float
    p90: float
    p99: float
    max: int

    @classmethod
    def of(cls, values: np.ndarray) -> "LengthStats":
        """Summarize a non-empty array of token counts."""
        p50, p90, p99 = np.percentile(values, [50, 90, 99])
        return cls(float(values.mean()), float(p50), float(p90), float(p99), int(values.max()))


@dataclass(frozen=True)
class TraceStats:
    """What ``batchsim trace stats`` reports; NaN where undefined (fewer than 2 requests)."""

    count: int
    duration_s: float
    rate_per_s: float
    interarrival_cv: float
    burstiness: float
    prompt: LengthStats
    output: LengthStats
    prompt_output_correlation: float
    prefix_reuse_fraction: float | None


def describe(table: pd.DataFrame, block_tokens: int | None = None) -> TraceStats:
    """Statistics of a canonical table (non-empty)."""
    arrival = table["arrival_s"].to_numpy(dtype=np.float64)
    prompt = table["prompt_tokens"].to_numpy()
    output = table["output_tokens"].to_numpy()
    duration_s = float(arrival[-1] - arrival[0])
    gaps = np.diff(arrival)
    rate = (len(arrival) - 1) / duration_s if duration_s > 0 else float("nan")
    cv = float(gaps.std() / gaps.mean()) if len(gaps) and gaps.mean() > 0 else float("nan")
    reuse = None
    if block_tokens and "prefix_block_ids" in table.columns:
        reuse = prefix_reuse_fraction(table["prefix_block_ids"], prompt, block_tokens)
    return TraceStats(
        count=len(table), duration_s=duration_s, rate_per_s=float(rate), interarrival_cv=cv,
        burstiness=(cv - 1.0) / (cv + 1.0), prompt=LengthStats.of(prompt),
        output=LengthStats.of(output), prompt_output_correlation=_correlation(prompt, output),
        prefix_reuse_fraction=reuse)


def prefix_reuse_fraction(block_ids: pd.Series, prompt_tokens: np.ndarray,
                          block_tokens: int) -> float:
    """Fraction of prompt tokens whose prefix block was seen in an earlier request."""
    sizes = block_ids.map(len).to_numpy()
    if sizes.sum() == 0:
        return 0.0
    flat = np.fromiter((i for ids in block_ids for i in ids), dtype=np.int64, count=sizes.sum())
    request = np.repeat(np.arange(len(sizes)), sizes)
    position = np.arange(len(flat)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    seen_before = request[first][inverse] < request
    tokens = np.clip(prompt_tokens[request] - position * block_tokens, 0, block_tokens)
    return float(tokens[seen_before].sum() / prompt_tokens.sum())


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])
