"""Runs of identical chunked-prefill steps (Step.chunk_run) give what stepping one at a time gives."""
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import example, given, settings

from batchsim.policies import ChunkedPrefillPolicy, VllmV1Policy
from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.measured_range import MeasuredRange, extrapolation
from batchsim.simulator.models import get_model
from batchsim.simulator.request import Request
from batchsim.simulator.roofline import RooflineCostModel
from batchsim.simulator.summary import summarize
from tests.helpers import LinearCost, make_requests, run

POLICIES = {
    "chunked": lambda: ChunkedPrefillPolicy(8, 256),
    "vllm": lambda: VllmV1Policy(8, 256),
    "vllm-threshold": lambda: VllmV1Policy(8, 256, long_prefill_token_threshold=96),
    "vllm-walked": lambda: VllmV1Policy(8, 256, walk_running=True),
}
SUMMARY_KEYS = ("mean_itl_ms", "p99_itl_ms", "median_itl_ms", "std_itl_ms", "mean_tpot_ms",
                "num_steps", "slot_utilization", "preemptions", "output_throughput", "max_waiting",
                "peak_kv_usage", "gpu_busy_fraction", "mean_prefill_tokens_per_step",
                "total_input_tokens")


def outcomes(requests):
    return np.array([[r.first_token_s, r.finish_s, r.admitted_s, r.preemptions, r.replica]
                     for r in requests], dtype=float)


def simulate_both(prompts, outputs, arrivals, name, max_run_steps=None, **options):
    """(single-stepped, run-jumping) as (outcomes, summary, statuses, end, step rows)."""
    cost = RooflineCostModel(get_model("llama-3-8b"), get_gpu("h200"))
    results = []
    for steps in (1, max_run_steps):
        requests = make_requests(prompts, outputs, arrivals)
        result = run(requests, POLICIES[name], cost, max_run_steps=steps, **options)
        finished = [r.arrival_s for r in requests if r.finish_s is not None]
        results.append((outcomes(requests), summarize(result), [r.status for r in requests],
                        result.end_s, result.recorder.steps, min(finished, default=0.0)))
    return results


def assert_same(stepped, jumped):
    (out1, s1, status1, end1, _, _), (out2, s2, status2, end2, steps2, origin_s) = stepped, jumped
    assert status1 == status2
    np.testing.assert_allclose(out2, out1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(end2, end1, rtol=1e-9)
    for key in SUMMARY_KEYS:
        np.testing.assert_allclose(s2[key], s1[key], rtol=1e-9, atol=1e-12, err_msg=key)
    # a run's row spreads its tokens evenly over its span (simulator/peaks.py), so only the tokens
    # of runs that cross a second's edge can land in another second than single stepping puts them
    peak_gap = abs(s2["max_output_tokens_per_s"] - s1["max_output_tokens_per_s"])
    assert peak_gap <= tokens_of_runs_across_seconds(steps2, origin_s) + 1e-9


def tokens_of_runs_across_seconds(steps, origin_s: float) -> float:
    """The most tokens that multi-step rows crossing a second's edge (counted from ``origin_s``)
    hold in any one second they span: what can move a one-second peak."""
    run = steps["steps"] > 1
    first = np.floor(steps["start_s"][run] - origin_s).astype(int)
    last = np.floor(steps["start_s"][run] + steps["duration_s"][run] - origin_s).astype(int)
    across = first != last
    movable: dict[int, float] = {}
    for a, b, tokens in zip(first[across], last[across], steps["sampled_tokens"][run][across]):
        for second in range(a, b + 1):
            movable[second] = movable.get(second, 0.0) + float(tokens)
    return max(movable.values(), default=0.0)


def chunk_run_rows(steps) -> int:
    return int(((steps["steps"] > 1) & (steps["prefill_tokens"] > 0)).sum())


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 40), name=st.sampled_from(sorted(POLICIES)),
       kv_blocks=st.integers(80, 800), replicas=st.integers(1, 2),
       router=st.sampled_from(["round-robin", "least-outstanding"]), swap=st.booleans(),
       prefix_caching=st.booleans(), gap_s=st.sampled_from([0.005, 0.05, 0.5]),
       max_run_steps=st.sampled_from([None, None, 3]))
# runs that cross a second's edge put a few tokens in another second than single steps do
@example(seed=4557389, n=23, name="chunked", kv_blocks=501, replicas=2, router="round-robin", swap=False,
         prefix_caching=False, gap_s=0.005, max_run_steps=None)
def test_chunk_runs_match_single_steps(seed, n, name, kv_blocks, replicas, router, swap,
                                       prefix_caching, gap_s, max_run_steps):
    # long prompts (up to 12 budgets) among short ones; arrivals dense enough to cut runs and
    # sparse enough to leave the replica idle; tight KV for preemption
    rng = np.random.default_rng(seed)
    arrivals = rng.exponential(gap_s, n).cumsum().tolist()
    prompts = np.where(rng.random(n) < 0.5, rng.integers(1, 3000, n), rng.integers(1, 300, n))
    outputs = rng.integers(1, 200, n).tolist()
    stepped, jumped = simulate_both(prompts.tolist(), outputs, arrivals, name, max_run_steps,
                                    kv_blocks=kv_blocks, replicas=replicas, router=router,
                                    swap=swap, prefix_caching=prefix_caching)
    assert_same(stepped, jumped)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_long_prompts_run_as_one_row_each(name):
    # 20 prompts of 5,000 tokens with 50-token answers, arriving far apart: every prompt is
    # chunked in one run and completed by its last chunk; the run starts with the admission
    # where the admitted chunk takes the whole budget (chunked, vllm), else the admission
    # step is a row of its own (a threshold caps vllm's chunks; the walked schedule)
    prompts, outputs = [5000] * 20, [50] * 20
    arrivals = [10.0 * i for i in range(20)]
    stepped, jumped = simulate_both(prompts, outputs, arrivals, name)
    assert_same(stepped, jumped)
    assert chunk_run_rows(stepped[4]) == 0
    assert chunk_run_rows(jumped[4]) == 20
    rows_per_prompt = 2 if name in ("chunked", "vllm") else 3
    assert int((jumped[4]["prefill_tokens"] > 0).sum()) == rows_per_prompt * 20


def test_a_chunk_run_by_hand():
    # chunked, budget 256, one 1,000-token prompt: chunks 256 (admission), 256, 256 (one run of
    # three steps, the admission first), 232 (completes the prompt, samples the first token),
    # then two decode steps; a step costs 10 ms + 10 us per prefill token
    requests = make_requests([1000], [3])
    result = run(requests, lambda: ChunkedPrefillPolicy(4, 256),
                 LinearCost(base_s=0.01, prefill_token_s=1e-5))
    steps = result.recorder.steps
    assert steps["steps"].tolist() == [3, 1, 2]
    assert steps["prefill_tokens"].tolist() == [256, 232, 0]
    assert steps["prefill_length"].tolist() == [256, 1000, 0]
    assert steps["waiting"].tolist() == [0, 0, 0]
    np.testing.assert_allclose(steps["duration_s"], [0.03768, 0.01232, 0.02])
    assert requests[0].first_token_s == pytest.approx(3 * 0.01256 + 0.01232, rel=1e-12)
    assert requests[0].finish_s == pytest.approx(3 * 0.01256 + 0.01232 + 0.02, rel=1e-12)
    assert summarize(result)["num_steps"] == 6


def test_a_chunk_run_prices_growing_contexts():
    # request 0 (prompt 16, output 100) decodes while request 1's prompt of 1,000 tokens is
    # chunked at 256 - 1 = 255 tokens a step; cost: 10 ms + 1 us per cached context token
    requests = make_requests([16, 1000], [100, 2], [0.0, 0.015])
    result = run(requests, lambda: ChunkedPrefillPolicy(4, 256),
                 LinearCost(base_s=0.01, context_token_s=1e-6))
    steps = result.recorder.steps
    # step 1 (0 s, 10 ms) prefills request 0; step 2 (10 ms) decodes it alone (context 16);
    # request 1 arrives during it; step 3 admits it (255 tokens) beside the decode (context 17)
    # and starts a run of three steps: chunks on 0, 255 and 510 cached tokens, decodes on 17,
    # 18 and 19
    assert steps["steps"].tolist()[:3] == [1, 1, 3]
    assert steps["prefill_tokens"].tolist()[:3] == [16, 0, 255]
    run_s = (0.01 + 1e-6 * 17) + (0.01 + 1e-6 * (255 + 18)) + (0.01 + 1e-6 * (510 + 19))
    assert steps["duration_s"][2] == pytest.approx(run_s, rel=1e-12)
    # the prompt's last chunk (235 tokens on 765 cached, decode on 20) samples its first token
    last_s = 0.01 + 1e-6 * (765 + 20)
    third_start_s = 0.01 + (0.01 + 1e-6 * 16)
    assert requests[1].admitted_s == pytest.approx(third_start_s, rel=1e-12)
    assert requests[1].first_token_s == pytest.approx(third_start_s + run_s + last_s, rel=1e-12)


def test_an_arrival_cuts_a_run_that_would_admit_it():
    # vLLM with long_prefill_token_threshold 100: a 1,000-token prompt takes 100 tokens a step
    # and leaves 156 of the budget, so a request arriving at 35 ms is admitted in the step
    # starting at 40 ms; the run from 10 ms holds the steps starting at 10, 20 and 30 ms
    for max_run_steps in (1, None):
        requests = make_requests([1000, 50], [3, 2], [0.0, 0.035])
        result = run(requests, lambda: VllmV1Policy(4, 256, long_prefill_token_threshold=100),
                     LinearCost(base_s=0.01), max_run_steps=max_run_steps)
        assert requests[1].admitted_s == pytest.approx(0.04)
        assert requests[1].first_token_s == pytest.approx(0.05)
        assert requests[0].first_token_s == pytest.approx(0.10)
    assert result.recorder.steps["steps"].tolist()[:3] == [1, 3, 1]


def test_a_run_that_fills_the_budget_passes_arrivals():
    # chunked: the chunk takes the whole budget, so a request arriving mid-run waits for the
    # prompt's last chunk either way; the run is not cut and the queue it saw is recorded
    requests = make_requests([2000, 50], [2, 2], [0.0, 0.025])
    result = run(requests, lambda: ChunkedPrefillPolicy(4, 256), LinearCost(base_s=0.01))
    steps = result.recorder.steps
    # one run from the admission: 256 x 7; then 208 beside the newcomer's first 48 tokens
    assert steps["steps"].tolist()[:2] == [7, 1]
    assert steps["prefill_tokens"].tolist()[:2] == [256, 256]
    assert steps["waiting"].tolist()[:2] == [1, 0]
    assert requests[1].admitted_s == pytest.approx(0.07)  # beside the last chunk (208 tokens)


def test_kv_shortage_ends_a_run_where_single_steps_stop_chunking():
    # 40 blocks of 16 tokens: a 1,000-token prompt needs 63; chunks of 256 tokens take 16
    # blocks, so the second chunk fits and the third does not; the run stops there and the
    # request is never finished (the cache can never hold it): same in both modes
    stepped, jumped = simulate_both([1000, 100], [5, 5], [0.0, 0.0], "chunked", kv_blocks=70)
    assert_same(stepped, jumped)


def test_chunk_run_rows_keep_the_measured_range_exact():
    # a run row stands for steps whose prefill length and KV tokens grow by the chunk a step:
    # the range check must see the last step's values, as it does for single steps
    stepped, jumped = simulate_both([3000], [2], [0.0], "chunked")
    limits = {"tokens per step": 256, "decodes per step": 8, "KV tokens per step": 2000,
              "context per decode": 4000, "prefill length": 2000}
    measured = MeasuredRange("test", limits)
    one, runs = extrapolation(measured, stepped[4]), extrapolation(measured, jumped[4])
    assert runs.steps == one.steps
    assert runs.steps_outside == one.steps_outside > 0
    assert runs.largest_ratio == pytest.approx(one.largest_ratio)


def long_shared_prefix_requests(seed: int, n: int, gap_s: float) -> list:
    """Requests whose prompts (up to about 1,500 tokens) open with one of three long shared
    prefixes: chunks of one prompt fill blocks that later prompts hit, or that evictions drop."""
    rng = np.random.default_rng(seed)
    arrivals = rng.exponential(gap_s, n).cumsum()
    requests = []
    for i in range(n):
        system = int(rng.integers(0, 3))
        ids = tuple(1000 * system + k for k in range(20 + 20 * system)) + tuple(
            100_000 * (i + 1) + k for k in range(int(rng.integers(0, 30))))
        prompt = int(rng.integers(max(1, len(ids) * 16 - 40), len(ids) * 16 + 40))
        requests.append(Request(i, float(arrivals[i]), prompt, int(rng.integers(1, 100)), ids))
    return requests


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 40), kv_blocks=st.integers(100, 500),
       gap_s=st.sampled_from([0.01, 0.1, 1.0]),
       name=st.sampled_from(["chunked", "vllm", "vllm-threshold"]))
# a decode run's blocks evict a cached block the blocked queue head hits; its chunk then fits
@example(seed=3238, n=33, kv_blocks=218, gap_s=0.01, name="chunked")
def test_chunk_runs_match_single_steps_with_shared_prefixes(seed, n, kv_blocks, gap_s, name):
    cost = RooflineCostModel(get_model("llama-3-8b"), get_gpu("h200"))
    seen = []
    for max_run_steps in (1, None):
        requests = long_shared_prefix_requests(seed, n, gap_s)
        result = run(requests, POLICIES[name], cost, kv_blocks=kv_blocks, prefix_caching=True,
                     prefix_block_tokens=16, max_run_steps=max_run_steps)
        cache = result.replicas[0].prefix_cache
        cache.check()
        seen.append((outcomes(requests), [r.status for r in requests], cache.hit_rate,
                     cache.kv.peak_used_blocks))
    (out1, status1, rate1, peak1), (out2, status2, rate2, peak2) = seen
    assert status2 == status1
    np.testing.assert_allclose(out2, out1, rtol=1e-9, atol=1e-12)
    assert (rate2, peak2) == (rate1, peak1)
