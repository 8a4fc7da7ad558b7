"""The bundled default trace: synthetic conversation traffic from published statistics.

Targets (Azure LLM inference trace 2023, conversation service): 5.53 requests/s with
inter-arrival coefficient of variation 1.09 (Gamma renewal arrivals); prompt tokens mean / p50 /
p99 1155 / 1020 / 4142; output tokens 211 / 129 / 601 with a maximum of 1000 (lengths from
``QuantileMatchedLength``). Prompt and output lengths are drawn independently (the published
statistics give no joint distribution). No trace file is copied: only these numbers.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from batchsim.traces.arrivals import gamma_arrivals
from batchsim.traces.columns import as_frame
from batchsim.traces.quantile_lengths import QuantileMatchedLength

RATE_PER_S = 5.53
INTERARRIVAL_CV = 1.09
PROMPT_MEAN, PROMPT_P50, PROMPT_P99 = 1155.0, 1020.0, 4142.0
OUTPUT_MEAN, OUTPUT_P50, OUTPUT_P99, OUTPUT_MAX = 211.0, 129.0, 601.0, 1000
SOURCE = "synthetic default (Azure 2023 conversation statistics)"


@lru_cache(maxsize=1)
def default_length_models() -> tuple[QuantileMatchedLength, QuantileMatchedLength]:
    """(prompt model, output model) fitted to the published targets."""
    return (QuantileMatchedLength.fit(PROMPT_MEAN, PROMPT_P50, PROMPT_P99),
            QuantileMatchedLength.fit(OUTPUT_MEAN, OUTPUT_P50, OUTPUT_P99, OUTPUT_MAX))


def default_trace(seed: int = 0, duration_s: float = 3600.0):
    """The default canonical trace (a DataFrame): deterministic for a given seed and duration."""
    return as_frame(default_columns(seed, duration_s))


def default_columns(seed: int = 0, duration_s: float = 3600.0) -> dict[str, np.ndarray]:
    """The default trace as numpy columns (``columns``), without pandas."""
    rng = np.random.default_rng(seed)
    arrival_s = gamma_arrivals(RATE_PER_S, INTERARRIVAL_CV, rng, duration_s=duration_s)
    prompt_model, output_model = default_length_models()
    count = len(arrival_s)
    return {
        "arrival_s": arrival_s,
        "prompt_tokens": prompt_model.sample(count, rng),
        "output_tokens": output_model.sample(count, rng),
        "request_id": np.arange(count, dtype=np.int64),
    }
