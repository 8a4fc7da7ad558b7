"""Advancing runs of decode steps in one event gives the same results as stepping one at a time."""
import hypothesis.strategies as st
import numpy as np
from hypothesis import given, settings

from batchsim.policies import ChunkedPrefillPolicy, ContinuousPolicy, StaticPolicy, VllmV1Policy
from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.models import get_model
from batchsim.simulator.roofline import RooflineCostModel
from batchsim.simulator.summary import summarize
from tests.helpers import LinearCost, make_requests, run

POLICIES = {
    "static": lambda: StaticPolicy(6),
    "continuous": lambda: ContinuousPolicy(12, 4096),
    "chunked": lambda: ChunkedPrefillPolicy(12, 256),
    "vllm": lambda: VllmV1Policy(12, 256),
}


def trace(seed, n):
    rng = np.random.default_rng(seed)
    arrivals = np.sort(rng.exponential(0.05, n).cumsum()).tolist()
    return (rng.integers(1, 700, n).tolist(), rng.integers(1, 300, n).tolist(), arrivals)


def outcomes(requests):
    return np.array([[r.first_token_s, r.finish_s, r.admitted_s, r.preemptions] for r in requests],
                    dtype=float)


def assert_runs_match_single_steps(prompts, outputs, arrivals, name, kv_blocks, replicas,
                                   router="round-robin", swap=False):
    cost = RooflineCostModel(get_model("llama-3-8b"), get_gpu("h200"))
    results = []
    for max_run_steps in (1, None):
        requests = make_requests(prompts, outputs, arrivals)
        result = run(requests, POLICIES[name], cost, kv_blocks=kv_blocks, replicas=replicas,
                     router=router, swap=swap, max_run_steps=max_run_steps)
        results.append((outcomes(requests), summarize(result),
                        [(r.status, r.replica) for r in requests], result.end_s))
    (stepped, s1, status1, end1), (jumped, s2, status2, end2) = results
    assert status1 == status2
    np.testing.assert_allclose(jumped, stepped, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(end2, end1, rtol=1e-9)
    for key in ("mean_itl_ms", "p99_itl_ms", "median_itl_ms", "std_itl_ms", "mean_tpot_ms",
                "num_steps", "slot_utilization", "preemptions", "output_throughput",
                "max_waiting", "peak_kv_usage", "gpu_busy_fraction"):
        np.testing.assert_allclose(s2[key], s1[key], rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 60), name=st.sampled_from(sorted(POLICIES)),
       kv_blocks=st.integers(40, 400), replicas=st.integers(1, 2))
def test_runs_match_single_steps(seed, n, name, kv_blocks, replicas):
    assert_runs_match_single_steps(*trace(seed, n), name, kv_blocks, replicas)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(20, 120), name=st.sampled_from(sorted(POLICIES)),
       kv_blocks=st.integers(60, 600), replicas=st.integers(1, 3),
       router=st.sampled_from(["round-robin", "least-outstanding"]), swap=st.booleans(),
       gap_s=st.sampled_from([0.002, 0.02, 0.2]))
def test_runs_match_single_steps_under_overload_and_routing(seed, n, name, kv_blocks, replicas,
                                                            router, swap, gap_s):
    # queues that stay long (runs pass arrivals), idle gaps (replicas chain steps between
    # arrivals routed to them), preemption under tight KV, and both routers
    rng = np.random.default_rng(seed)
    arrivals = rng.exponential(gap_s, n).cumsum().tolist()
    prompts, outputs = rng.integers(1, 900, n).tolist(), rng.integers(1, 400, n).tolist()
    assert_runs_match_single_steps(prompts, outputs, arrivals, name, kv_blocks, replicas,
                                   router, swap)


def test_a_lone_long_decode_is_one_event():
    requests = make_requests([100], [500])
    result = run(requests, lambda: ContinuousPolicy(8, 4096), LinearCost(base_s=0.01))
    rows = result.recorder.steps["steps"]
    assert list(rows) == [1, 499]
    assert abs(requests[0].finish_s - 5.0) < 1e-9
