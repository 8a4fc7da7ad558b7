"""Decode runs that go on past a finish without asking the policy (Step.continues_past_finishes)."""
import hypothesis.strategies as st
import numpy as np
from hypothesis import given, settings

from batchsim.policies import ChunkedPrefillPolicy, ContinuousPolicy, VllmV1Policy
from batchsim.simulator.replica import Replica
from tests.helpers import LinearCost, make_requests, run

POLICIES = {
    "continuous": lambda: ContinuousPolicy(12, 4096),
    "chunked": lambda: ChunkedPrefillPolicy(12, 256),
    "vllm": lambda: VllmV1Policy(12, 256),
}


class CountingPolicy:
    """A policy wrapper that counts ``schedule`` calls."""

    def __init__(self, policy) -> None:
        self.policy, self.calls = policy, 0
        self.slots = policy.slots

    def admission_error(self, request):
        return self.policy.admission_error(request)

    def schedule(self, view, now_s):
        self.calls += 1
        return self.policy.schedule(view, now_s)


def test_finishes_inside_a_lone_batch_do_not_ask_the_policy():
    # three requests arrive together: one prefill step admits all three, then one decode run
    # per finish (outputs 3, 5 and 9 tokens: the prefill samples the first token, so decode
    # runs of 2, 2 and 4 steps). Before, the policy chose each run; now only the first.
    policies = []

    def make():
        policies.append(CountingPolicy(ContinuousPolicy(8, 4096)))
        return policies[0]

    requests = make_requests([10, 20, 30], [3, 5, 9], [0.0, 0.0, 0.0])
    result = run(requests, make, LinearCost(base_s=0.01))
    rows = result.recorder.steps
    assert list(rows["steps"]) == [1, 2, 2, 4]  # one row per composition, as before
    assert list(rows["decode_seqs"]) == [0, 3, 2, 1]
    # schedule: idle before the arrivals are queued, the prefill, the first decode run, idle
    # at the end (single stepping between finishes asked twice more: 6 calls)
    assert policies[0].calls == 4
    assert [r.output_tokens for r in requests] == [r.num_generated for r in requests]


def test_a_waiting_request_still_goes_through_the_policy():
    # the second request arrives while the first decodes: the replica asks the policy (which
    # admits it) as soon as the arrival cuts the run, whatever finished
    policies = []

    def make():
        policies.append(CountingPolicy(ContinuousPolicy(8, 4096)))
        return policies[0]

    requests = make_requests([10, 10], [20, 3], [0.0, 0.05])
    run(requests, make, LinearCost(base_s=0.01))
    assert requests[1].admitted_s is not None and requests[1].admitted_s >= 0.05
    assert requests[1].first_token_s > 0.05


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(5, 80), name=st.sampled_from(sorted(POLICIES)),
       kv_blocks=st.integers(40, 400), gap_s=st.sampled_from([0.005, 0.05, 0.5]))
def test_the_policy_would_have_chosen_the_step_it_skipped(seed, n, name, kv_blocks, gap_s):
    # each time the replica reuses a step, ask the real policy what it would choose then:
    # the same decode-only step (no admission, no preemption, same promises)
    checked = []
    real = Replica.decode_continues

    def checking(self, step):
        again = real(self, step)
        if again:
            chosen = self.policy.schedule(self.view, self.clock_s)
            assert chosen.decode and not chosen.tokens and not chosen.preempt
            assert chosen.shape is None and not chosen.ignores_arrivals
            assert chosen.continues_past_finishes
            checked.append(1)
        return again

    rng = np.random.default_rng(seed)
    arrivals = rng.exponential(gap_s, n).cumsum().tolist()
    prompts, outputs = rng.integers(1, 900, n).tolist(), rng.integers(1, 400, n).tolist()
    Replica.decode_continues = checking
    try:
        requests = make_requests(prompts, outputs, arrivals)
        run(requests, POLICIES[name], LinearCost(base_s=0.01), kv_blocks=kv_blocks)
    finally:
        Replica.decode_continues = real


def test_the_check_is_exercised():
    # the property above is not vacuous: on a sparse trace most finishes are reused
    calls = []
    real = Replica.decode_continues

    def counting(self, step):
        again = real(self, step)
        calls.append(again)
        return again

    rng = np.random.default_rng(3)
    arrivals = rng.exponential(0.5, 40).cumsum().tolist()
    Replica.decode_continues = counting
    try:
        requests = make_requests(rng.integers(1, 900, 40).tolist(),
                                 rng.integers(20, 400, 40).tolist(), arrivals)
        run(requests, POLICIES["continuous"], LinearCost(base_s=0.01))
    finally:
        Replica.decode_continues = real
    assert sum(calls) > 10
