"""vLLM v1's scheduler, one step at a time on hand-built views, then through the simulator."""
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from batchsim.policies import VllmV1Policy
from tests.helpers import LinearCost, make_requests, run
from tests.policies.views import HandView, prompt, running


def scheduled(view, step) -> dict:
    """The step's whole {request: tokens} map, the implicit decode share spelled out."""
    tokens = dict(step.tokens)
    if step.decode:
        for request in view.running:
            if view.is_decoding(request):
                tokens.setdefault(request, 1)
    return tokens


def test_budget_fills_waiting_prompts_in_order_and_chunks_the_last():
    view = HandView(waiting=[prompt(0, 400), prompt(1, 400), prompt(2, 500)])
    step = VllmV1Policy(16, 1024).schedule(view, 0.0)
    assert scheduled(view, step) == {view.waiting[0]: 400, view.waiting[1]: 400,
                                     view.waiting[2]: 224}
    assert step.preempt == []


def test_next_step_decodes_first_then_finishes_the_chunked_prompt():
    r0, r1 = running(0, 400, 400, generated=1), running(1, 400, 400, generated=1)
    r2 = running(2, 500, 224)
    view = HandView(running=[r0, r1, r2])
    step = VllmV1Policy(16, 1024).schedule(view, 0.0)
    assert scheduled(view, step) == {r0: 1, r1: 1, r2: 276}


def test_max_num_seqs_caps_admissions():
    view = HandView(running=[running(0, 10, 10, generated=1)],
                    waiting=[prompt(1, 10), prompt(2, 10), prompt(3, 10)])
    step = VllmV1Policy(3, 1024).schedule(view, 0.0)
    assert [r.request_id for r in step.tokens] == [1, 2]


def test_a_waiting_request_whose_blocks_do_not_fit_stops_admission():
    # 100 tokens need 7 blocks of 16, only 5 are free: the 10-token request behind it waits too
    view = HandView(waiting=[prompt(0, 100), prompt(1, 10)], free_blocks=5)
    assert VllmV1Policy(16, 1024).schedule(view, 0.0).is_idle


def test_kv_shortage_preempts_the_newest_running_request_and_admits_nobody():
    # r0 has 32 tokens in 2 full blocks: its next token needs a third; none is free
    r0, r1 = running(0, 32, 32, generated=1), running(1, 20, 20, generated=1)
    view = HandView(running=[r0, r1], waiting=[prompt(2, 5)], free_blocks=0)
    step = VllmV1Policy(16, 1024).schedule(view, 0.0)
    assert step.preempt == [r1]
    assert scheduled(view, step) == {r0: 1}


def test_a_request_that_cannot_get_blocks_preempts_itself_last():
    r0 = running(0, 32, 32, generated=1)
    step = VllmV1Policy(16, 1024).schedule(HandView(running=[r0], free_blocks=0), 0.0)
    assert step.preempt == [r0] and step.tokens == {}


def test_long_prefill_threshold_caps_every_prefill():
    view = HandView(waiting=[prompt(0, 400), prompt(1, 400), prompt(2, 500)])
    step = VllmV1Policy(16, 1024, long_prefill_token_threshold=100).schedule(view, 0.0)
    assert list(step.tokens.values()) == [100, 100, 100]


def test_budget_goes_in_admission_order_so_a_later_decode_can_miss_a_step():
    older_prefill = running(0, 1000, 100)
    newer_decode = running(1, 50, 50, generated=1)
    view = HandView(running=[older_prefill, newer_decode])
    step = VllmV1Policy(16, 600, long_prefill_token_threshold=600).schedule(view, 0.0)
    assert scheduled(view, step) == {older_prefill: 600}


def test_a_cached_prefix_shortens_the_prefill_and_its_free_blocks_count_against_admission():
    request = prompt(0, 100)  # 7 blocks; 64 cached tokens = 4 blocks, all in the free queue
    hits = {request: (64, 4)}
    policy = VllmV1Policy(16, 1024)
    assert policy.schedule(HandView(waiting=[request], free_blocks=6, prefix_hits=hits), 0).is_idle
    step = policy.schedule(HandView(waiting=[request], free_blocks=7, prefix_hits=hits), 0.0)
    assert step.tokens == {request: 36}


def test_a_prompt_samples_its_first_token_in_the_step_that_completes_it():
    cost = LinearCost(base_s=0.01)
    (request,) = requests = make_requests([1000], [3])
    run(requests, lambda: VllmV1Policy(4, 256), cost, max_run_steps=1)
    chunks = [s.prefill_chunks for s in cost.shapes if s.prefill_chunks]
    assert chunks == [((256, 0),), ((256, 256),), ((256, 512),), ((232, 768),)]
    assert request.first_token_s == pytest.approx(0.04)
    assert request.finish_s == pytest.approx(0.06)


def outcomes(requests):
    return np.array([[r.first_token_s, r.finish_s, r.admitted_s, r.preemptions]
                     for r in requests], dtype=float)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 60), kv_blocks=st.integers(40, 400))
def test_grouping_decodes_gives_the_same_steps_as_walking_every_running_request(seed, n,
                                                                                 kv_blocks):
    rng = np.random.default_rng(seed)
    prompts, outputs = rng.integers(1, 700, n).tolist(), rng.integers(1, 300, n).tolist()
    arrivals = np.sort(rng.exponential(0.05, n).cumsum()).tolist()
    results = []
    for walk in (False, True):
        requests = make_requests(prompts, outputs, arrivals)
        cost = LinearCost(base_s=0.01, prefill_token_s=1e-5, context_token_s=1e-7)
        run(requests, lambda: VllmV1Policy(12, 256, walk_running=walk), cost,
            kv_blocks=kv_blocks, max_run_steps=1)
        results.append(outcomes(requests))
    np.testing.assert_array_equal(results[0], results[1])
