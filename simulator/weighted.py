"""Exact statistics of a multiset given as values with integer counts (inter-token gaps).

A simulation stores inter-token latencies as (gap, count) pairs, tens of millions of them for a
million requests. Percentiles equal numpy's linear-interpolation percentiles of the expanded
list. Sorting the pairs by value (an indirect sort plus gathers) is the slow way; here the
values are split by count (counts are few distinct small integers), each group is sorted
directly, and the value at a rank of the expanded list is found by bisecting over the bit
patterns of non-negative doubles, which order like the doubles themselves.
"""
from __future__ import annotations

import numpy as np


def weighted_mean_std(values: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Mean and population standard deviation of ``values`` repeated ``counts`` times."""
    return _mean_std(_sorted_by_count(np.asarray(values, dtype=np.float64),
                                      np.asarray(counts).astype(np.int64, copy=False)))


def weighted_stats(values: np.ndarray, counts: np.ndarray, qs) -> tuple[float, float, list]:
    """(mean, std, percentiles at ``qs``) of ``values`` repeated ``counts`` times, grouping once."""
    values = np.asarray(values, dtype=np.float64)
    counts = np.asarray(counts).astype(np.int64, copy=False)
    groups = _sorted_by_count(values, counts)
    if values.min() < 0 or len(groups) > FEW_COUNTS or len(values) < LARGE:
        # few values, or many distinct counts (each bisection step searches every group):
        # one indirect sort is cheaper
        return (*_mean_std(groups), _percentiles_by_argsort(values, counts, qs))
    return (*_mean_std(groups), _percentiles(groups, qs))


def weighted_percentiles(values: np.ndarray, counts: np.ndarray, qs) -> list[float]:
    """np.percentile of ``values`` repeated ``counts`` times at each of ``qs`` (0-100)."""
    return weighted_stats(values, counts, qs)[2]


def _mean_std(groups: list[tuple[int, np.ndarray]]) -> tuple[float, float]:
    total = sum(count * len(part) for count, part in groups)
    mean = sum(count * float(part.sum()) for count, part in groups) / total
    square_sum = 0.0
    for count, part in groups:
        deviation = part - mean
        square_sum += count * float(np.dot(deviation, deviation))
    return mean, float(np.sqrt(square_sum / total))


def _percentiles(groups: list[tuple[int, np.ndarray]], qs) -> list[float]:
    total = sum(count * len(part) for count, part in groups)
    out = []
    for q in qs:
        position = q / 100.0 * (total - 1)
        low, frac = int(np.floor(position)), position - np.floor(position)
        low_value = _value_at_rank(groups, low)
        high_value = _value_at_rank(groups, min(low + 1, total - 1))
        out.append(float(low_value + (high_value - low_value) * frac))
    return out


FEW_COUNTS = 16  # up to this many distinct counts, one mask pass per count beats a sort
LARGE = 1_000_000  # below this many values an indirect sort is as fast as grouping


def _sorted_by_count(values: np.ndarray, counts: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(count, sorted values with that count) for each distinct positive count."""
    if counts.min() < 0:
        raise ValueError("counts must be non-negative")
    present = np.flatnonzero(np.bincount(counts)) if counts.max() < 2**20 else np.unique(counts)
    present = present[present > 0]
    if len(present) <= FEW_COUNTS:
        parts = [(int(c), values[counts == c]) for c in present]
    else:
        parts = _split_by_count(values, counts)
    for _, part in parts:
        part += 0.0  # -0.0 would sort before 0.0 by its bits
        part.sort()
    return parts


def _split_by_count(values: np.ndarray, counts: np.ndarray) -> list[tuple[int, np.ndarray]]:
    small = counts.astype(np.uint16) if counts.max() < 2**16 else counts
    order = np.argsort(small, kind="stable")  # a radix sort for 16-bit keys
    sorted_counts = small[order]
    grouped = values[order]
    del order
    cuts = np.flatnonzero(sorted_counts[1:] != sorted_counts[:-1]) + 1
    return [(int(sorted_counts[start]), grouped[start:end])
            for start, end in zip(np.concatenate(([0], cuts)), np.concatenate((cuts, [len(grouped)])))
            if sorted_counts[start] > 0]


def _value_at_rank(groups: list[tuple[int, np.ndarray]], rank: int) -> float:
    """The value at 0-based ``rank`` of the expanded, sorted list."""
    low = min(int(part[:1].view(np.int64)[0]) for _, part in groups)
    high = max(int(part[-1:].view(np.int64)[0]) for _, part in groups)
    while low < high:  # smallest bit pattern whose value has more than ``rank`` entries <= it
        middle = (low + high) // 2
        x = np.int64(middle).view(np.float64)
        below = sum(count * int(np.searchsorted(part, x, side="right")) for count, part in groups)
        if below > rank:
            high = middle
        else:
            low = middle + 1
    return float(np.int64(low).view(np.float64))


def _percentiles_by_argsort(values: np.ndarray, counts: np.ndarray, qs) -> list[float]:
    order = np.argsort(values)
    values, ends = values[order], np.cumsum(counts[order])
    total = int(ends[-1])
    out = []
    for q in qs:
        position = q / 100.0 * (total - 1)
        low, frac = int(np.floor(position)), position - np.floor(position)
        low_value = values[np.searchsorted(ends, low, side="right")]
        high_value = values[np.searchsorted(ends, min(low + 1, total - 1), side="right")]
        out.append(float(low_value + (high_value - low_value) * frac))
    return out
