"""One request alone: its latencies are exactly sums of the cost model's step times."""
import pytest

from batchsim.policies import ChunkedPrefillPolicy, ContinuousPolicy, StaticPolicy
from batchsim.simulator.summary import summarize
from tests.helpers import LinearCost, make_requests, run

POLICIES = [lambda: StaticPolicy(8), lambda: ContinuousPolicy(256, 8192),
            lambda: ChunkedPrefillPolicy(256, 8192)]


@pytest.mark.parametrize("make_policy", POLICIES)
def test_ttft_is_prefill_and_e2e_adds_n_minus_one_decodes(make_policy):
    # prefill of 100 tokens: 0.01 + 100 * 1e-4 = 0.02 s; each decode: 0.01 + 0.002 = 0.012 s
    cost = LinearCost(base_s=0.01, prefill_token_s=1e-4, decode_seq_s=0.002)
    (request,) = requests = make_requests([100], [5], arrivals=[3.0])
    result = run(requests, make_policy, cost)
    assert request.status == "finished"
    assert request.first_token_s - request.arrival_s == pytest.approx(0.02, abs=1e-12)
    assert request.finish_s - request.arrival_s == pytest.approx(0.02 + 4 * 0.012, abs=1e-12)
    summary = summarize(result)
    assert summary["mean_tpot_ms"] == pytest.approx(12.0)
    assert summary["mean_itl_ms"] == pytest.approx(12.0)
    assert summary["median_ttft_ms"] == pytest.approx(20.0)


def test_decode_cost_sees_growing_context():
    # context grows by one per decode: cached 100, 101, 102 before the three decode steps
    cost = LinearCost(base_s=0.0, context_token_s=1e-3)
    (request,) = requests = make_requests([100], [4])
    run(requests, lambda: ContinuousPolicy(8, 4096), cost, max_run_steps=1)
    decode_shapes = [s for s in cost.shapes if s.decode_count]
    assert [s.decode_context_sum for s in decode_shapes] == [100, 101, 102]
    assert [s.decode_context_max for s in decode_shapes] == [100, 101, 102]
    assert request.finish_s == pytest.approx(0.0 + 0.303)


def test_one_output_token_finishes_at_prefill():
    (request,) = requests = make_requests([10], [1])
    run(requests, lambda: ContinuousPolicy(8, 4096), LinearCost(base_s=0.5))
    assert request.first_token_s == request.finish_s == pytest.approx(0.5)
