"""The bundled default trace: synthetic conversation traffic from measured summary statistics.

It reproduces what sets capacity in the Azure LLM inference trace 2023 (conversation service,
one hour, 19,366 requests), measured as a handful of facts and never copying the trace:

- how the rate moves over the hour: the request rate of each 5-minute bin (it climbs from
  about 4.8 to 7.5 req/s around minutes 25-35 and falls to 3.8 by the end);
- bursts: within the moving rate, gaps are a Gamma renewal process (coefficient of variation
  1.05 once the local rate is divided out; 1.09 over the hour with the rate's movement);
- the joint distribution of lengths, as two populations: long-context prompts (at least 3,000
  tokens; 9.4% of requests, mostly about 4,090 tokens with short answers) and the rest. The
  share of long prompts moves with the hour (8% early, 15-21% at the peak, 2% after it), so
  the prefill load peaks harder than the rate. Each population has its prompt and output
  quantiles and its prompt/output rank correlation (Gaussian copula; 0.03 long, 0.32 rest),
  which together give the trace's overall Pearson correlation of -0.11.

Why these: a capacity plan (P99 TTFT over the hour) is set by the busiest minutes. Replayed
through ``batchsim plan`` (continuous, ttft_p99=2s, tpot_p99=100ms) the real trace sustains
13.2 req/s per H200; the same lengths on stationary Gamma arrivals sustain 18.5 (the rate curve
is most of the gap), and real arrivals with lengths shuffled over the hour 14.4-15.1 (long
prompts crowding into the peak is the rest); within-minute timing and the correlation move it
by less than the bisection's noise. Durations beyond an hour repeat the hour's curves.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from batchsim.traces.arrivals import gamma_arrivals
from batchsim.traces.columns import as_frame
from batchsim.traces.quantile_lengths import QuantileMatchedLength

BIN_S = 300.0
HOUR_S = 3600.0
# Requests per second and share of long prompts in each 5-minute bin of the hour
# (the last real bin is 201.7 s long; its rate holds to the hour's end).
RATE_PER_S_BY_BIN = (4.82, 4.74, 5.19, 5.20, 6.28, 7.46, 7.43, 6.13, 5.67, 4.75, 4.32, 3.81)
LONG_SHARE_BY_BIN = (0.076, 0.077, 0.086, 0.084, 0.149, 0.205, 0.147, 0.023, 0.059, 0.058,
                     0.022, 0.016)
LOCAL_INTERARRIVAL_CV = 1.05
LONG_PROMPT_MIN_TOKENS = 3000
# Quantiles (percent) of each population's lengths, tokens; linear between them.
QUANTILE_PCT = (0, 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.9, 100)
LONG_PROMPT_TOKENS = (3000, 3079, 3343, 3817, 4075, 4078, 4081, 4084, 4087, 4090, 4099, 4145, 4902,
                      6280, 7930, 14050)
LONG_OUTPUT_TOKENS = (17, 26, 30, 35, 40, 45, 50, 57, 66, 76, 98, 131, 154, 241, 755, 757)
OTHER_PROMPT_TOKENS = (2, 27, 181, 203, 381, 399, 420, 986, 1043, 1088, 1153, 1351, 2054, 2655,
                       2927, 2995)
OTHER_OUTPUT_TOKENS = (7, 14, 50, 66, 85, 96, 111, 146, 209, 392, 404, 427, 459, 606, 956, 1000)
LONG_RANK_CORRELATION, OTHER_RANK_CORRELATION = 0.032, 0.320

# Whole-trace marginals (mean / p50 / p99), kept for benchmarks that draw lengths alone.
RATE_PER_S = 5.53
INTERARRIVAL_CV = 1.09
PROMPT_MEAN, PROMPT_P50, PROMPT_P99 = 1155.0, 1020.0, 4142.0
OUTPUT_MEAN, OUTPUT_P50, OUTPUT_P99, OUTPUT_MAX = 211.0, 129.0, 601.0, 1000
SOURCE = "synthetic default (Azure 2023 conversation statistics)"


@lru_cache(maxsize=1)
def default_length_models() -> tuple[QuantileMatchedLength, QuantileMatchedLength]:
    """(prompt model, output model) matching the whole trace's marginals, drawn independently."""
    return (QuantileMatchedLength.fit(PROMPT_MEAN, PROMPT_P50, PROMPT_P99),
            QuantileMatchedLength.fit(OUTPUT_MEAN, OUTPUT_P50, OUTPUT_P99, OUTPUT_MAX))


def bin_of(arrival_s: np.ndarray) -> np.ndarray:
    """Index of each time's 5-minute bin within its hour."""
    within_hour_s = np.mod(arrival_s, HOUR_S)
    return np.minimum((within_hour_s // BIN_S).astype(np.int64), len(RATE_PER_S_BY_BIN) - 1)


def moving_rate_arrivals(duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Gamma renewal arrivals on the clock of the hour's rate curve (a time change).

    Unit-rate Gamma gaps fall on "expected requests" time; mapping it back through the
    cumulative rate gives the bins' rates with the measured local burstiness.
    """
    bins = int(math.ceil(duration_s / BIN_S))
    edges_s = np.minimum(np.arange(bins + 1) * BIN_S, duration_s)
    rates = np.asarray(RATE_PER_S_BY_BIN)[bin_of(edges_s[:-1])]
    expected = np.concatenate(([0.0], np.cumsum(rates * np.diff(edges_s))))
    operational = gamma_arrivals(1.0, LOCAL_INTERARRIVAL_CV, rng, duration_s=float(expected[-1]))
    return np.interp(operational, expected, edges_s)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * np.vectorize(math.erfc, otypes=[float])(-z / math.sqrt(2.0))


def _correlated_quantiles(count: int, rank_correlation: float, rng: np.random.Generator):
    """Two uniform columns joined by a Gaussian copula with this Spearman rank correlation."""
    rho = 2.0 * math.sin(math.pi * rank_correlation / 6.0)  # Spearman -> Pearson for normals
    z1, z2 = rng.standard_normal(count), rng.standard_normal(count)
    return _normal_cdf(z1), _normal_cdf(rho * z1 + math.sqrt(1.0 - rho * rho) * z2)


def _tokens_at(quantile: np.ndarray, table: tuple[int, ...]) -> np.ndarray:
    tokens = np.rint(np.interp(100.0 * quantile, QUANTILE_PCT, table))
    return np.maximum(tokens, 1).astype(np.int64)


def population_lengths(long: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(prompt, output) tokens per request, from its population's quantiles and copula."""
    prompt, output = np.zeros(len(long), np.int64), np.zeros(len(long), np.int64)
    for mask, prompts, outputs, rank_correlation in (
            (long, LONG_PROMPT_TOKENS, LONG_OUTPUT_TOKENS, LONG_RANK_CORRELATION),
            (~long, OTHER_PROMPT_TOKENS, OTHER_OUTPUT_TOKENS, OTHER_RANK_CORRELATION)):
        u_prompt, u_output = _correlated_quantiles(int(mask.sum()), rank_correlation, rng)
        prompt[mask], output[mask] = _tokens_at(u_prompt, prompts), _tokens_at(u_output, outputs)
    return prompt, output


def default_trace(seed: int = 0, duration_s: float = HOUR_S):
    """The default canonical trace (a DataFrame): deterministic for a given seed and duration."""
    return as_frame(default_columns(seed, duration_s))


def default_columns(seed: int = 0, duration_s: float = HOUR_S) -> dict[str, np.ndarray]:
    """The default trace as numpy columns (``traces.columns``), without pandas."""
    if not duration_s > 0:
        raise ValueError(f"duration must be positive, got {duration_s} s")
    rng = np.random.default_rng(seed)
    arrival_s = moving_rate_arrivals(duration_s, rng)
    arrival_s = arrival_s[arrival_s < duration_s]
    long = rng.random(len(arrival_s)) < np.asarray(LONG_SHARE_BY_BIN)[bin_of(arrival_s)]
    prompt, output = population_lengths(long, rng)
    return {
        "arrival_s": arrival_s,
        "prompt_tokens": prompt,
        "output_tokens": output,
        "request_id": np.arange(len(arrival_s), dtype=np.int64),
    }
