"""Summary statistics follow vLLM's definitions; weighted percentiles match expanded ones."""
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from batchsim.policies import ContinuousPolicy
from batchsim.simulator.summary import Slo, summarize, weighted_percentile
from tests.helpers import LinearCost, make_requests, run


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=20),
       data=st.data(), q=st.sampled_from([0.0, 1.0, 50.0, 90.0, 99.0, 100.0]))
def test_weighted_percentile_equals_percentile_of_expanded_list(values, data, q):
    weights = data.draw(st.lists(st.integers(1, 5), min_size=len(values), max_size=len(values)))
    expanded = np.repeat(np.array(values), weights)
    assert weighted_percentile(np.array(values), np.array(weights, float), q) == pytest.approx(
        float(np.percentile(expanded, q)), rel=1e-12, abs=1e-12)


def test_goodput_counts_requests_meeting_every_objective():
    # two requests at t=0 with base 0.1 s steps: both prefilled in step 1 (TTFT 0.1 s); outputs
    # 2 and 11 tokens: TPOT 0.1 s each; E2E 0.2 s and 1.1 s; duration 1.1 s
    requests = make_requests([10, 10], [2, 11])
    result = run(requests, lambda: ContinuousPolicy(8, 4096), LinearCost(base_s=0.1))
    summary = summarize(result, Slo(ttft_s=0.15, e2e_s=0.5))
    assert summary["duration"] == pytest.approx(1.1)
    assert summary["request_goodput"] == pytest.approx(1 / 1.1)
    assert summary["request_throughput"] == pytest.approx(2 / 1.1)
    assert summary["output_throughput"] == pytest.approx(13 / 1.1)
    assert summary["mean_e2el_ms"] == pytest.approx(650.0)
    assert summary["p50_e2el_ms"] == pytest.approx(650.0) == summary["median_e2el_ms"]
    # linear interpolation between 200 and 1100 ms, as np.percentile (and vLLM) computes it
    assert summary["p90_e2el_ms"] == pytest.approx(200.0 + 0.9 * 900.0)


def test_vllm_key_names_are_present():
    result = run(make_requests([10], [3]), lambda: ContinuousPolicy(8, 4096))
    summary = summarize(result)
    for key in ("duration", "completed", "total_input_tokens", "total_output_tokens",
                "request_throughput", "request_goodput", "output_throughput",
                "total_token_throughput", "failed", "max_output_tokens_per_s",
                "max_concurrent_requests"):
        assert key in summary
    for metric in ("ttft", "tpot", "itl", "e2el"):
        for prefix in ("mean_", "median_", "std_", "p50_", "p90_", "p99_"):
            assert f"{prefix}{metric}_ms" in summary


def test_percentile_options_select_keys():
    result = run(make_requests([10, 10], [2, 11]), lambda: ContinuousPolicy(8, 4096))
    summary = summarize(result, percentiles=(25.0, 99.9), percentile_metrics=("e2el",))
    assert {"p25_e2el_ms", "p99.9_e2el_ms", "median_e2el_ms"} <= summary.keys()
    assert not any(key.endswith(("_ttft_ms", "_itl_ms", "_tpot_ms")) for key in summary)
