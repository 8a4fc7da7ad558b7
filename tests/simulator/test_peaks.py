"""Per-second peaks follow vLLM's bucketing: whole seconds from the first arrival."""
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import example, given, settings

from batchsim.policies import ContinuousPolicy
from batchsim.simulator.peaks import peak_concurrent_requests, peak_output_tokens_per_s
from batchsim.simulator.summary import summarize
from tests.helpers import LinearCost, make_requests, run


def steps_table(rows):
    """rows of (start_s, duration_s, steps, sampled_tokens)."""
    start, duration, steps, sampled = (np.array(c) for c in zip(*rows))
    return {"start_s": start.astype(float), "duration_s": duration.astype(float),
            "steps": steps.astype(np.int64), "sampled_tokens": sampled.astype(np.int64)}


def test_tokens_count_in_the_second_their_step_ends():
    # 3 tokens at 0.5 s; a run of 4 steps of 0.25 s from 0.5 s samples 2 tokens at 0.75, 1.0,
    # 1.25 and 1.5 s: second 0 holds 3 + 2, second 1 holds 2 + 2 + 2 (1.0 s opens second 1)
    table = steps_table([(0.0, 0.5, 1, 3), (0.5, 1.0, 4, 8)])
    assert peak_output_tokens_per_s(table, 0.0) == 6.0
    # counted from 0.6 s, the run's four steps (0.75..1.5 s) share one second
    assert peak_output_tokens_per_s(table, 0.6) == 8.0


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(st.floats(0, 20), st.floats(0.001, 5), st.integers(1, 40),
                               st.integers(0, 50)), min_size=1, max_size=15))
@example(rows=[(1.5, 1.9, 19, 1)])  # step ends meet second edges exactly in floating point
def test_runs_bucket_like_their_expanded_steps(rows):
    table = steps_table(rows)
    times, weights = [], []
    for start, duration, steps, sampled in rows:  # token k of a run ends at start+(k+1)*step
        for k in range(steps):
            times.append(start + (k + 1) * duration / steps)
            weights.append(sampled / steps)
    buckets = np.bincount(np.floor(np.array(times)).astype(int), weights=weights)
    assert peak_output_tokens_per_s(table, 0.0) == pytest.approx(buckets.max(), abs=1e-9)


def test_concurrency_counts_each_second_a_request_is_active():
    # seconds 0 and 1 hold the first two requests, second 2 only the third
    assert peak_concurrent_requests(np.array([0.0, 0.5, 2.2]), np.array([1.2, 1.9, 2.5])) == 2
    # a request ending at 1.0 s and one starting at 1.5 s share second 1: vLLM counts both
    assert peak_concurrent_requests(np.array([0.0, 1.5]), np.array([1.0, 1.7])) == 2
    assert peak_concurrent_requests(np.array([]), np.array([])) == 0


def test_a_run_inside_one_second_peaks_at_all_its_tokens():
    # two requests at t=0, 2 and 11 output tokens, 10 ms steps: all 13 tokens within 0.11 s
    result = run(make_requests([10, 10], [2, 11]), lambda: ContinuousPolicy(8, 4096),
                 LinearCost(base_s=0.01))
    summary = summarize(result)
    assert summary["max_output_tokens_per_s"] == pytest.approx(13.0)
    assert summary["max_concurrent_requests"] == 2
