"""Trace statistics against values computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from batchsim.traces.stats import describe, prefix_reuse_fraction


def test_stats_by_hand():
    table = pd.DataFrame({"arrival_s": [0.0, 1.0, 3.0, 6.0],
                          "prompt_tokens": [10, 20, 30, 40], "output_tokens": [4, 3, 2, 1]})
    stats = describe(table)
    assert stats.count == 4 and stats.duration_s == 6.0
    assert stats.rate_per_s == 0.5                      # 3 gaps over 6 s
    # gaps 1, 2, 3: mean 2, population std sqrt(2/3)
    assert stats.interarrival_cv == pytest.approx(math.sqrt(2 / 3) / 2)
    cv = math.sqrt(2 / 3) / 2
    assert stats.burstiness == pytest.approx((cv - 1) / (cv + 1))
    assert stats.prompt.mean == 25.0 and stats.prompt.p50 == 25.0
    assert stats.prompt.p90 == pytest.approx(37.0)       # 30 + 0.7 * 10
    assert stats.prompt.p99 == pytest.approx(39.7)       # 30 + 0.97 * 10
    assert stats.output.max == 4
    assert stats.prompt_output_correlation == pytest.approx(-1.0)
    assert stats.prefix_reuse_fraction is None


def test_single_request_has_undefined_rate():
    stats = describe(pd.DataFrame({"arrival_s": [0.0], "prompt_tokens": [5], "output_tokens": [1]}))
    assert stats.count == 1 and math.isnan(stats.rate_per_s) and math.isnan(stats.interarrival_cv)


def test_prefix_reuse_counts_tokens_of_blocks_seen_in_earlier_requests():
    ids = pd.Series([(0, 1), (0, 2, 1), (5, 5)], dtype=object)
    prompt = np.array([600, 1100, 700])
    # request 1 reuses block 0 (512 tokens) and block 1 at position 2 (1100 - 1024 = 76 tokens);
    # request 2 repeats its own block 5 but no earlier request had it: 0
    assert prefix_reuse_fraction(ids, prompt, 512) == pytest.approx((512 + 76) / 2400)
