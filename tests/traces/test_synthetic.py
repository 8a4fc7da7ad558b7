"""Arrival processes, length models and the default trace against their targets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.traces.helpers import write
from batchsim.traces.arrivals import (all_at_once, gamma_arrivals, poisson_arrivals,
                                     rate_curve_arrivals)
from batchsim.traces.readers.rates import read_rate_csv
from batchsim.traces.default import default_trace
from batchsim.traces.errors import TraceError
from batchsim.traces.lengths import (EmpiricalLengths, FixedLengths, LogNormalLengths, MixtureLengths,
                            UniformLengths)
from batchsim.traces.quantile_lengths import QuantileMatchedLength
from batchsim.traces.synth import parse_component, synthesize


def gap_stats(arrival):
    gaps = np.diff(arrival)
    return 1.0 / gaps.mean(), gaps.std() / gaps.mean()


@pytest.mark.parametrize("cv", [0.5, 1.0, 1.09, 2.0])
def test_gamma_rate_and_cv_over_large_sample(cv):
    # 400k gaps: the sample CV's relative standard error is well under 1% for these shapes
    arrival = gamma_arrivals(10.0, cv, np.random.default_rng(1), count=400_000)
    rate, sample_cv = gap_stats(arrival)
    assert arrival[0] == 0.0 and np.all(np.diff(arrival) >= 0)
    assert rate == pytest.approx(10.0, rel=0.01)
    assert sample_cv == pytest.approx(cv, rel=0.02)


def test_poisson_by_duration_stays_inside_and_hits_rate():
    arrival = poisson_arrivals(50.0, np.random.default_rng(2), duration_s=4000.0)
    assert arrival.max() < 4000.0
    # count ~ Poisson(200000): sd 447, i.e. 0.22%
    assert len(arrival) == pytest.approx(200_000, rel=0.01)
    assert gap_stats(arrival)[1] == pytest.approx(1.0, rel=0.02)


def test_rate_curve_counts_follow_each_window(tmp_path):
    path = write(tmp_path, "rate.csv", "start_s,rate_per_s\n0,10\n100,0\n200,40\n")
    starts, rates = read_rate_csv(path)
    arrival = rate_curve_arrivals(starts, rates, 300.0, np.random.default_rng(3))
    counts = np.histogram(arrival, bins=[0, 100, 200, 300])[0]
    assert counts[1] == 0
    # Poisson(1000) and Poisson(4000): within 5 standard deviations
    assert abs(counts[0] - 1000) < 5 * np.sqrt(1000)
    assert abs(counts[2] - 4000) < 5 * np.sqrt(4000)
    with pytest.raises(TraceError, match="rate.csv line 3, column start_s: 0 does not increase"):
        read_rate_csv(write(tmp_path, "rate.csv", "start_s,rate_per_s\n0,10\n0,3\n"))


def test_all_at_once():
    assert all_at_once(3).tolist() == [0.0, 0.0, 0.0]


def test_length_models_basic_laws():
    rng = np.random.default_rng(4)
    prompt, output = FixedLengths(7, 3).sample(5, rng)
    assert prompt.tolist() == [7] * 5 and output.tolist() == [3] * 5
    prompt, output = UniformLengths(10, 20, 1, 1).sample(100_000, rng)
    assert prompt.min() == 10 and prompt.max() == 20 and output.tolist() == [1] * 100_000
    assert prompt.mean() == pytest.approx(15.0, rel=0.01)


def test_lognormal_fit_recovers_parameters():
    rng = np.random.default_rng(5)
    table = pd.DataFrame({"prompt_tokens": np.rint(rng.lognormal(7.0, 0.6, 200_000)) + 1,
                          "output_tokens": np.rint(rng.lognormal(5.0, 0.8, 200_000)) + 1})
    fitted = LogNormalLengths.fit(table)
    assert fitted.prompt_mu == pytest.approx(7.0, abs=0.01)
    assert fitted.prompt_sigma == pytest.approx(0.6, abs=0.01)
    assert fitted.output_mu == pytest.approx(5.0, abs=0.02)
    assert fitted.output_sigma == pytest.approx(0.8, abs=0.02)


def test_empirical_keeps_pairs():
    model = EmpiricalLengths((1, 2, 3), (10, 20, 30))
    prompt, output = model.sample(1000, np.random.default_rng(6))
    assert np.array_equal(output, prompt * 10)
    assert set(prompt.tolist()) == {1, 2, 3}


def test_mixture_weights_and_component_parsing():
    short, long = parse_component("0.8:100:50"), parse_component("0.2:2000-4000:500-1000")
    assert short == (0.8, FixedLengths(100, 50))
    assert long == (0.2, UniformLengths(2000, 4000, 500, 1000))
    model = MixtureLengths((0.8, 0.2), (short[1], long[1]))
    prompt, _ = model.sample(100_000, np.random.default_rng(7))
    assert np.mean(prompt == 100) == pytest.approx(0.8, abs=0.01)
    assert prompt[prompt != 100].min() >= 2000
    with pytest.raises(TraceError, match="sum to 1"):
        MixtureLengths((0.5, 0.2), (short[1], long[1]))
    with pytest.raises(TraceError, match="WEIGHT:PROMPT:OUTPUT"):
        parse_component("0.8:100")


@pytest.mark.parametrize("mean, p50, p99, cap", [(1155, 1020, 4142, None), (211, 129, 601, 1000)])
def test_quantile_matched_length_hits_targets_on_a_large_sample(mean, p50, p99, cap):
    model = QuantileMatchedLength.fit(mean, p50, p99, cap)
    values = model.sample(1_000_000, np.random.default_rng(8))
    # sampling error at 1e6 draws is ~0.1% for the mean; rounding moves quantiles < 1 token
    assert values.mean() == pytest.approx(mean, rel=0.01)
    assert np.percentile(values, 50) == pytest.approx(p50, abs=2)
    assert np.percentile(values, 99) == pytest.approx(p99, rel=0.01)
    assert values.min() >= 1 and (cap is None or values.max() <= cap)


def test_quantile_matched_length_refuses_impossible_targets():
    with pytest.raises(ValueError, match="cannot be matched"):
        QuantileMatchedLength.fit(5000, 1020, 4142)


# Tolerances for one simulated hour (~19,700 requests): the rate's standard error is about
# CV / sqrt(n) = 0.8%, the CV's ~1.2%, the prompt mean's ~0.7%, p99 a few percent. Targets are
# the Azure 2023 conversation trace's published statistics (README's `batchsim trace stats`).
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_trace_matches_published_statistics(seed):
    table = default_trace(seed)
    rate, cv = gap_stats(table["arrival_s"].to_numpy())
    assert rate == pytest.approx(5.53, rel=0.03)
    assert cv == pytest.approx(1.09, rel=0.05)
    for column, (mean, p50, p99) in {"prompt_tokens": (1155, 1020, 4142),
                                     "output_tokens": (211, 129, 601)}.items():
        values = table[column].to_numpy()
        assert values.mean() == pytest.approx(mean, rel=0.03)
        assert np.percentile(values, 50) == pytest.approx(p50, rel=0.04)
        assert np.percentile(values, 99) == pytest.approx(p99, rel=0.06)
    assert table["output_tokens"].max() <= 1000
    assert table["arrival_s"].iloc[-1] < 3600.0
    # long prompts answer briefly, the rest answer longer with longer prompts: overall -0.112
    corr = np.corrcoef(table["prompt_tokens"], table["output_tokens"])[0, 1]
    assert -0.14 < corr < -0.07


def test_default_trace_rate_and_long_prompt_share_move_over_the_hour():
    table = default_trace(0)
    minute = (table["arrival_s"] // 60).astype(int)
    per_minute = table.groupby(minute).size()
    # the busiest 5-minute bins run at 7.46 and 7.43 req/s, the whole hour at about 5.5
    peak = per_minute.loc[25:34].sum() / 600.0
    assert peak == pytest.approx((7.46 + 7.43) / 2, rel=0.05)
    assert per_minute.loc[55:59].sum() / 300.0 == pytest.approx(3.81, rel=0.08)
    long = table["prompt_tokens"] >= 3000
    assert long[minute.between(25, 29)].mean() == pytest.approx(0.205, abs=0.03)
    assert long[minute.between(50, 59)].mean() == pytest.approx(0.019, abs=0.01)


def test_default_trace_shorter_and_longer_than_an_hour():
    ten_minutes = default_trace(0, 600.0)
    assert ten_minutes["arrival_s"].max() < 600.0
    assert len(ten_minutes) / 600.0 == pytest.approx((4.82 + 4.74) / 2, rel=0.06)
    two_hours = default_trace(0, 7200.0)
    second_hour = two_hours["arrival_s"] >= 3600.0
    assert second_hour.sum() == pytest.approx((~second_hour).sum(), rel=0.03)


def test_default_trace_is_deterministic_and_canonical():
    first, again = default_trace(3, 600.0), default_trace(3, 600.0)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(default_trace(4, 600.0))
    assert list(first.columns) == ["arrival_s", "prompt_tokens", "output_tokens", "request_id"]
    assert first["prompt_tokens"].dtype == np.int64 and first["arrival_s"].is_monotonic_increasing


def test_synthesize_builds_a_sorted_canonical_table():
    table = synthesize(np.array([2.0, 0.0, 1.0]), FixedLengths(5, 6), np.random.default_rng(0))
    assert table["arrival_s"].tolist() == [0.0, 1.0, 2.0]
    assert table["request_id"].tolist() == [0, 1, 2]
