"""Every request ends once, KV returns to zero, tokens generated equal tokens requested."""
import hypothesis.strategies as st
import numpy as np
from hypothesis import given, settings

from batchsim.policies import ChunkedPrefillPolicy, ContinuousPolicy, StaticPolicy
from batchsim.simulator.export import requests_frame, steps_frame
from batchsim.simulator.summary import summarize
from tests.helpers import LinearCost, make_requests, run


def random_requests(rng, n, max_prompt=600, max_output=200, span_s=2.0):
    arrivals = np.sort(rng.uniform(0, span_s, n)).tolist()
    prompts = rng.integers(1, max_prompt, n).tolist()
    outputs = rng.integers(1, max_output, n).tolist()
    return make_requests(prompts, outputs, arrivals)


def assert_conserved(result, requests):
    assert result.recorder.outcomes.recorded == len(requests)  # each once: twice would raise
    for request in requests:
        assert request.status in ("finished", "rejected")
        if request.status == "finished":
            assert request.num_generated == request.output_tokens
            assert request.first_token_s <= request.finish_s
            assert request.arrival_s <= request.admitted_s <= request.first_token_s
        else:
            assert request.reason
    for replica in result.replicas:
        assert replica.kv.used_blocks == 0
        assert not replica.running and not replica.waiting
    steps = steps_frame(result)
    assert (steps["kv_blocks_used"] <= result.replicas[0].kv.total_blocks).all()
    # each token after the first has exactly one inter-token gap, and a request's gaps add up
    # to its last-token time minus its first-token time
    finished = [r for r in requests if r.status == "finished"]
    itl = result.recorder.itl_values()
    gaps, counts = itl.values_s, itl.counts
    assert counts.sum() == sum(r.output_tokens - 1 for r in finished)
    assert np.isclose((gaps * counts).sum(), sum(r.finish_s - r.first_token_s for r in finished),
                      rtol=1e-9, atol=1e-9)
    assert (gaps > 0).all()


POLICY_CHOICES = {
    "static": lambda knobs: (lambda: StaticPolicy(knobs["seqs"] % 16 + 1)),
    "continuous": lambda knobs: (lambda: ContinuousPolicy(knobs["seqs"], 4096)),
    "chunked": lambda knobs: (lambda: ChunkedPrefillPolicy(knobs["seqs"], knobs["budget"])),
}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 40), name=st.sampled_from(sorted(POLICY_CHOICES)),
       seqs=st.integers(1, 32), budget=st.integers(32, 512), kv_blocks=st.integers(8, 200),
       block_size=st.sampled_from([1, 4, 16]), replicas=st.integers(1, 3),
       swap=st.booleans(), router=st.sampled_from(["round-robin", "least-outstanding"]))
def test_invariants_hold_on_random_traces(seed, n, name, seqs, budget, kv_blocks, block_size,
                                          replicas, swap, router):
    rng = np.random.default_rng(seed)
    requests = random_requests(rng, n)
    make_policy = POLICY_CHOICES[name]({"seqs": seqs, "budget": max(budget, seqs)})
    cost = LinearCost(base_s=0.005, prefill_token_s=1e-5, decode_seq_s=1e-4)
    result = run(requests, make_policy, cost, kv_blocks=kv_blocks, block_size=block_size,
                 replicas=replicas, router=router, swap=swap)
    assert_conserved(result, requests)
    summary = summarize(result)
    finished = [r for r in requests if r.status == "finished"]
    assert summary["completed"] == len(finished)
    assert summary["total_output_tokens"] == sum(r.output_tokens for r in finished)
    # a request bigger than the whole cache is the only reason continuous/chunked may reject
    for request in requests:
        if request.status == "rejected" and name != "static":
            total = request.prompt_tokens + request.output_tokens
            assert -(-total // block_size) > kv_blocks or "max_num_batched_tokens" in request.reason


def test_tight_kv_cache_forces_preemption_and_still_conserves():
    rng = np.random.default_rng(7)
    requests = random_requests(rng, 60, max_prompt=200, max_output=300, span_s=0.1)
    result = run(requests, lambda: ContinuousPolicy(32, 4096), kv_blocks=60, block_size=16)
    assert result.recorder.preemptions > 0
    assert_conserved(result, requests)
    assert sum(r.preemptions for r in requests) == result.recorder.preemptions


def test_swap_preemption_prices_the_transfer():
    rng = np.random.default_rng(7)
    requests = random_requests(rng, 60, max_prompt=200, max_output=300, span_s=0.1)
    cost = LinearCost()
    result = run(requests, lambda: ContinuousPolicy(32, 4096), cost, kv_blocks=60, swap=True)
    assert result.recorder.preemptions > 0
    assert any(shape.swap_tokens > 0 for shape in cost.shapes)
    assert_conserved(result, requests)


def test_requests_that_cannot_fit_are_rejected_with_reasons():
    requests = make_requests([100, 5000, 10], [10, 10, 3000])
    result = run(requests, lambda: ContinuousPolicy(8, 8192), kv_blocks=100, block_size=16,
                 max_model_len=4096)
    assert [r.status for r in requests] == ["finished", "rejected", "rejected"]
    assert "max_model_len" in requests[1].reason
    assert "KV cache" in requests[2].reason
    assert_conserved(result, requests)


def test_empty_trace_gives_an_empty_report():
    result = run([], lambda: ContinuousPolicy(8, 4096))
    summary = summarize(result)
    assert summary["completed"] == 0 and summary["duration"] == 0.0
    assert summary["request_throughput"] == 0.0


def test_same_inputs_give_byte_identical_outputs(tmp_path):
    outputs = []
    for attempt in range(2):
        rng = np.random.default_rng(3)
        requests = random_requests(rng, 50)
        result = run(requests, lambda: ChunkedPrefillPolicy(8, 128), kv_blocks=80, replicas=2,
                     router="least-outstanding")
        path = tmp_path / f"r{attempt}.csv"
        requests_frame(result).to_csv(path, index=False, float_format="%.17g")
        steps_frame(result).to_csv(tmp_path / f"s{attempt}.csv", index=False, float_format="%.17g")
        outputs.append(path.read_bytes() + (tmp_path / f"s{attempt}.csv").read_bytes())
    assert outputs[0] == outputs[1]
