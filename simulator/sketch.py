"""Statistics of a latency metric: exact while the values are kept, a bounded sketch otherwise.

``ExactValues`` keeps every value (with an optional integer count each) and gives numpy's
linear-interpolation percentiles of the expanded list: the numbers a summary has always printed.
``LogSketch`` keeps a histogram over logarithmic buckets: bucket i holds values in
(gamma^(i-1), gamma^i] with gamma = (1 + a) / (1 - a), and a value is read back as
2 gamma^i / (gamma + 1), within relative error a of any value in the bucket (a = 1% here). A
percentile interpolates between the values at two ranks, each read within a, so it too is within
relative error a of the exact percentile (all values are non-negative; zeros are kept exactly).
Values outside [MIN_S, MAX_S] seconds are clamped to the end buckets, where the bound does not
hold; ``clamped`` counts them. Mean and standard deviation are exact up to float rounding:
chunk moments merged with Chan's pairwise update. Memory is fixed: about 2,000 buckets.
"""
from __future__ import annotations

import math

import numpy as np

from batchsim.simulator.weighted import weighted_stats

RELATIVE_ERROR = 0.01
MIN_S = 1e-9
MAX_S = 1e7
ADD_CHUNK = 1 << 20


class ExactValues:
    """Every value of a metric (seconds), optionally with a count each."""

    exact = True
    relative_error = 0.0

    def __init__(self, values_s: np.ndarray | None = None, counts: np.ndarray | None = None) -> None:
        self.values_s = np.zeros(0) if values_s is None else values_s
        self.counts = counts

    @property
    def count(self) -> int:
        """Values held (each counted as often as its count says)."""
        return int(self.values_s.size if self.counts is None else self.counts.sum())

    def mean_std_percentiles_ms(self, qs) -> tuple[float, float, list[float]]:
        """(mean, population std, percentiles at ``qs``) in milliseconds."""
        if self.counts is None:
            ms = self.values_s * 1000.0
            return float(ms.mean()), float(ms.std()), [float(np.percentile(ms, q)) for q in qs]
        # millions of (gap, count) pairs: computed in seconds, no scaled copy
        mean_s, std_s, pct_s = weighted_stats(self.values_s, self.counts, qs)
        return 1000.0 * mean_s, 1000.0 * std_s, [1000.0 * x for x in pct_s]


class LogSketch:
    """A fixed-size log-bucketed histogram with exact moments (see the module docstring)."""

    exact = False
    relative_error = RELATIVE_ERROR

    def __init__(self) -> None:
        self._log_gamma = math.log((1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR))
        self._first = math.ceil(math.log(MIN_S) / self._log_gamma)
        size = math.ceil(math.log(MAX_S) / self._log_gamma) - self._first + 1
        self.buckets = np.zeros(size, dtype=np.int64)
        self.zeros = 0
        self.clamped = 0
        self.total = 0
        self._mean_s = 0.0
        self._m2 = 0.0  # sum of squared deviations from the mean

    @property
    def count(self) -> int:
        """Values added (each counted as often as its count says)."""
        return self.total

    def add(self, values_s: np.ndarray, counts: np.ndarray | None = None) -> None:
        """Add ``values_s`` (non-negative seconds), each ``counts[j]`` times if given."""
        for start in range(0, len(values_s), ADD_CHUNK):  # bounded temporaries
            self._add(values_s[start:start + ADD_CHUNK],
                      None if counts is None else counts[start:start + ADD_CHUNK])

    def _add(self, values_s: np.ndarray, counts: np.ndarray | None) -> None:
        # Millions of values per call (a static batch adds a gap per step): each pass over them
        # counts, so the common case (every count positive, every value positive and inside
        # the bucket range) skips the masks, and temporaries are reused in place. The results
        # are the same floats and counts as the masked computation.
        values_s = np.asarray(values_s, dtype=np.float64)
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
            if counts.size and counts.min() <= 0:
                keep = counts > 0
                values_s, counts = values_s[keep], counts[keep]
        if values_s.size == 0:
            return
        low = values_s.min()  # NaN if any value is NaN
        if not low >= 0:
            raise ValueError("a latency sketch holds non-negative numbers only")
        weight = (counts.astype(np.float64) if counts is not None
                  else np.ones(values_s.size, dtype=np.float64))
        self._merge_moments(values_s, weight)
        if low == 0:
            positive = values_s > 0
            self.zeros += int(weight[~positive].sum())
            values_s, weight = values_s[positive], weight[positive]
            if values_s.size == 0:
                return
        scaled = np.log(values_s)
        np.divide(scaled, self._log_gamma, out=scaled)
        np.ceil(scaled, out=scaled)
        index = scaled.astype(np.int64)
        del scaled
        index -= self._first
        size = self.buckets.size
        if index.min() < 0 or index.max() >= size:
            outside = (index < 0) | (index >= size)
            self.clamped += int(weight[outside].sum())
            np.clip(index, 0, size - 1, out=index)
        self.buckets += np.bincount(index, weights=weight, minlength=size).astype(np.int64)

    def _merge_moments(self, values_s: np.ndarray, weight: np.ndarray) -> None:
        n_b = int(weight.sum())
        mean_b = float(np.dot(values_s, weight) / n_b)
        deviation = values_s - mean_b
        deviation *= deviation
        m2_b = float(np.dot(deviation, weight))
        n_a, n = self.total, self.total + n_b
        delta = mean_b - self._mean_s
        self._mean_s += delta * n_b / n
        self._m2 += m2_b + delta * delta * n_a * n_b / n
        self.total = n

    def merge(self, other: "LogSketch") -> None:
        """Add every value of ``other``."""
        if other.total == 0:
            return
        self.buckets += other.buckets
        self.zeros += other.zeros
        self.clamped += other.clamped
        n_a, n_b = self.total, other.total
        n = n_a + n_b
        delta = other._mean_s - self._mean_s
        self._mean_s += delta * n_b / n
        self._m2 += other._m2 + delta * delta * n_a * n_b / n
        self.total = n

    def value_at_rank(self, rank: int) -> float:
        """The value (seconds) at 0-based ``rank`` of the sorted values, within the bound."""
        if rank < self.zeros:
            return 0.0
        cumulative = np.cumsum(self.buckets)
        bucket = int(np.searchsorted(cumulative, rank - self.zeros, side="right"))
        gamma = math.exp(self._log_gamma)
        return 2.0 * gamma ** (bucket + self._first) / (gamma + 1.0)

    def mean_std_percentiles_ms(self, qs) -> tuple[float, float, list[float]]:
        """(mean, population std, percentiles at ``qs``) in milliseconds; percentiles within
        ``relative_error`` of the exact ones."""
        out = []
        for q in qs:  # numpy's linear interpolation between the two nearest ranks
            position = q / 100.0 * (self.total - 1)
            low = math.floor(position)
            low_value = self.value_at_rank(low)
            high_value = self.value_at_rank(min(low + 1, self.total - 1))
            out.append(1000.0 * (low_value + (high_value - low_value) * (position - low)))
        std_s = math.sqrt(self._m2 / self.total) if self.total else 0.0
        return 1000.0 * self._mean_s, 1000.0 * std_s, out


def merge_values(parts: list) -> ExactValues | LogSketch:
    """The values of several metrics' parts: exact if every part is, else one sketch."""
    if all(isinstance(part, ExactValues) for part in parts):
        if not parts:
            return ExactValues()
        weighted = any(part.counts is not None for part in parts)
        values = np.concatenate([part.values_s for part in parts])
        counts = None
        if weighted:
            counts = np.concatenate([part.counts if part.counts is not None
                                     else np.ones(part.values_s.size, np.int64) for part in parts])
        return ExactValues(values, counts)
    merged = LogSketch()
    for part in parts:
        if isinstance(part, ExactValues):
            merged.add(part.values_s, part.counts)
        else:
            merged.merge(part)
    return merged
