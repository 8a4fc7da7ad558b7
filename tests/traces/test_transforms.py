"""Transforms: limit, windows, rate scaling, clipping, sampling and tie spreading."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from batchsim.traces.errors import TraceError
from batchsim.traces.transforms import (clip_to_max_len, limit, sample, scale_rate, spread_ties,
                               window_index, window_time)


def make_table(arrivals=(0.0, 1.0, 2.0, 3.0, 4.0)) -> pd.DataFrame:
    count = len(arrivals)
    return pd.DataFrame({"arrival_s": list(arrivals), "prompt_tokens": [100 * (i + 1) for i in range(count)],
                         "output_tokens": [10] * count, "request_id": list(range(count))})


def test_limit_and_windows():
    table, note = limit(make_table(), 2)
    assert table["request_id"].tolist() == [0, 1] and note == "limit: kept the first 2 of 5 requests"
    table, note = window_time(make_table(), 1.0, 3.0)
    assert table["request_id"].tolist() == [1, 2] and table["arrival_s"].tolist() == [0.0, 1.0]
    table, _ = window_index(make_table(), 3, 10)
    assert table["request_id"].tolist() == [3, 4] and table["arrival_s"].tolist() == [0.0, 1.0]
    with pytest.raises(TraceError):
        window_time(make_table(), 3.0, 1.0)


def test_scale_rate_divides_arrivals():
    table, note = scale_rate(make_table(), 2.0)
    assert table["arrival_s"].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    with pytest.raises(TraceError):
        scale_rate(make_table(), 0.0)


def test_clip_to_max_len_counts_and_trims_blocks():
    table = make_table((0.0, 1.0, 2.0))
    table["prefix_block_ids"] = pd.Series([(1,), (1, 2), (1, 2, 3)], dtype=object)
    clipped, note = clip_to_max_len(table, 250, block_tokens=128)
    # prompts 100 and 200 fit with their 10 output tokens; 300 is cut to 249, leaving 1 output
    assert clipped["prompt_tokens"].tolist() == [100, 200, 249]
    assert clipped["output_tokens"].tolist() == [10, 10, 1]
    assert clipped["prefix_block_ids"].tolist() == [(1,), (1, 2), (1, 2)]
    assert note == "clipped 1 requests to max_model_len 250 (1 prompts cut, 1 outputs cut)"


def test_sample_is_seeded_and_sorted():
    big = make_table(tuple(float(i) for i in range(100)))
    first, note = sample(big, 10, np.random.default_rng(0))
    again, _ = sample(big, 10, np.random.default_rng(0))
    assert first.equals(again) and first["arrival_s"].is_monotonic_increasing
    assert note == "sampled 10 of 100 requests"


def test_spread_ties_uses_median_gap_for_last_bucket():
    table, _ = spread_ties(make_table((0.0, 0.0, 3.0, 6.0, 6.0)))
    assert table["arrival_s"].tolist() == [0.0, 1.5, 3.0, 6.0, 7.5]
