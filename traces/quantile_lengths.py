"""Token lengths matched to a published mean, median (p50) and 99th percentile (tokens).

Model: a lognormal whose log-quantile curve is bent once between the median and p99. With
Z ~ N(0, 1), ``ln x`` is piecewise linear in Z with knots at Z = 0 (the median), Z = z90 (the
90th percentile, not published: solved so that the mean matches) and Z = z99 (p99). Below the
median and beyond p99 the slope is sigma = ln(p99 / p50) / z99, the lognormal through the two
published quantiles. Median and p99 hold by construction; the mean is matched in closed form
(each segment's integral of ``exp(a + b z) phi(z)`` is ``exp(a + b^2/2) [Phi(z1 - b) - Phi(z0 - b)]``).
Samples are rounded to whole tokens and clipped to [1, max_tokens].
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z90 = 1.2815515655446004   # standard normal 90th percentile
Z99 = 2.3263478740408408   # standard normal 99th percentile
_Z_END = 12.0              # beyond this the tail has probability < 1e-32


def _phi_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _segment_mean(a: float, b: float, z0: float, z1: float) -> float:
    """E[exp(a + b Z); z0 < Z < z1] for standard normal Z."""
    return math.exp(a + 0.5 * b * b) * (_phi_cdf(z1 - b) - _phi_cdf(z0 - b))


@dataclass(frozen=True)
class QuantileMatchedLength:
    """One token-length distribution; build it with ``fit``."""

    knots_z: tuple[float, ...]
    knots_log: tuple[float, ...]
    max_tokens: int | None = None

    @classmethod
    def fit(cls, mean: float, p50: float, p99: float,
            max_tokens: int | None = None) -> "QuantileMatchedLength":
        """Match mean, p50 and p99 exactly (before rounding); raises if no bend can."""
        if not 1 <= p50 < p99 or (max_tokens is not None and max_tokens <= p99):
            raise ValueError(f"need 1 <= p50 < p99 < max, got {p50}, {p99}, {max_tokens}")
        low, high = math.log(p50), math.log(p99)
        if not _mean_of(cls._build(low, high, low, max_tokens)) <= mean \
                <= _mean_of(cls._build(low, high, high, max_tokens)):
            raise ValueError(f"mean {mean} cannot be matched with p50 {p50} and p99 {p99}")
        lo_90, hi_90 = low, high
        for _ in range(100):  # bisection on ln(x90): the mean rises with it
            mid = 0.5 * (lo_90 + hi_90)
            if _mean_of(cls._build(low, high, mid, max_tokens)) < mean:
                lo_90 = mid
            else:
                hi_90 = mid
        return cls._build(low, high, 0.5 * (lo_90 + hi_90), max_tokens)

    @classmethod
    def _build(cls, log_p50: float, log_p99: float, log_p90: float,
               max_tokens: int | None) -> "QuantileMatchedLength":
        sigma = (log_p99 - log_p50) / Z99
        knots_z = (-_Z_END, 0.0, Z90, Z99, _Z_END)
        knots_log = (log_p50 - sigma * _Z_END, log_p50, log_p90, log_p99,
                     log_p99 + sigma * (_Z_END - Z99))
        return cls(knots_z, knots_log, max_tokens)

    @property
    def p90_tokens(self) -> float:
        """The solved 90th percentile (tokens)."""
        return math.exp(self.knots_log[2])

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` lengths in whole tokens (int64)."""
        z = rng.standard_normal(count)
        tokens = np.rint(np.exp(np.interp(z, self.knots_z, self.knots_log)))
        return np.clip(tokens, 1, self.max_tokens).astype(np.int64)


def _mean_of(model: QuantileMatchedLength) -> float:
    """Mean of the continuous model, including the cap at max_tokens."""
    total = 0.0
    cap = math.log(model.max_tokens) if model.max_tokens else math.inf
    for i in range(len(model.knots_z) - 1):
        z0, z1 = model.knots_z[i], model.knots_z[i + 1]
        y0, y1 = model.knots_log[i], model.knots_log[i + 1]
        b = (y1 - y0) / (z1 - z0)
        a = y0 - b * z0
        if y1 <= cap:
            total += _segment_mean(a, b, z0, z1)
        else:  # the cap is reached inside this segment
            z_cap = z0 + (cap - y0) / b if y0 < cap else z0
            total += _segment_mean(a, b, z0, z_cap) + math.exp(cap) * (_phi_cdf(z1) - _phi_cdf(z_cap))
    return total + (math.exp(cap) if model.max_tokens else 0.0) * (1.0 - _phi_cdf(_Z_END))
