"""Each policy's admission and budget rules, observed step by step."""
import pytest

from batchsim.policies import ChunkedPrefillPolicy, ContinuousPolicy, StaticPolicy
from tests.helpers import LinearCost, RecordingPolicy, make_requests, run


def recorded(make_inner):
    holder = []

    def factory():
        holder.append(RecordingPolicy(make_inner()))
        return holder[-1]
    return factory, holder


def test_static_never_admits_mid_batch():
    factory, holder = recorded(lambda: StaticPolicy(2))
    requests = make_requests([5, 5, 5], [3, 6, 2], arrivals=[0.0, 0.0, 0.001])
    run(requests, factory, LinearCost(base_s=0.01), max_run_steps=1)
    log = holder[0].log
    # batch {0, 1}: one prefill and five decode steps; request 2 only after the batch ends
    assert log[0][1] == [(0, 5), (1, 5)]
    assert all(not entry[1] for entry in log[1:6])
    assert log[6][1] == [(2, 5)]
    assert requests[2].admitted_s == pytest.approx(0.06)


def test_static_max_wait_holds_a_partial_batch_until_the_deadline():
    factory, holder = recorded(lambda: StaticPolicy(4, max_wait_s=0.5))
    requests = make_requests([5, 5], [2, 2], arrivals=[0.0, 0.2])
    run(requests, factory, LinearCost(base_s=0.01), max_run_steps=1)
    assert holder[0].log[0][0] == pytest.approx(0.5)
    assert holder[0].log[0][1] == [(0, 5), (1, 5)]


def test_static_fills_immediately_when_the_batch_is_full():
    factory, holder = recorded(lambda: StaticPolicy(2, max_wait_s=10.0))
    requests = make_requests([5, 5], [2, 2], arrivals=[0.0, 0.2])
    run(requests, factory, LinearCost(base_s=0.01), max_run_steps=1)
    assert holder[0].log[0][0] == pytest.approx(0.2)


def test_continuous_admits_on_the_step_after_a_slot_frees():
    factory, holder = recorded(lambda: ContinuousPolicy(2, 4096))
    requests = make_requests([5, 5, 5], [2, 5, 5])
    run(requests, factory, LinearCost(base_s=0.01), max_run_steps=1)
    log = holder[0].log
    assert log[0][1] == [(0, 5), (1, 5)]          # step 1: prefill two, both sample token 1
    assert log[1][1:3] == ([], True)              # step 2: decode; request 0 finishes
    assert log[2][1] == [(2, 5)]                  # step 3: request 2 takes the freed slot
    assert requests[0].finish_s == pytest.approx(0.02)
    assert requests[2].admitted_s == pytest.approx(0.02)


def test_continuous_prefill_steps_respect_the_token_budget():
    factory, holder = recorded(lambda: ContinuousPolicy(8, 100))
    requests = make_requests([60, 30, 30], [2, 2, 2])
    run(requests, factory, LinearCost(base_s=0.01), max_run_steps=1)
    assert holder[0].log[0][1] == [(0, 60), (1, 30)]
    assert holder[0].log[1][1] == [(2, 30)]


def test_chunked_never_exceeds_its_budget_and_schedules_decodes_first():
    factory, holder = recorded(lambda: ChunkedPrefillPolicy(4, 64))
    requests = make_requests([100, 150, 40], [5, 3, 4], arrivals=[0.0, 0.0, 0.05])
    run(requests, factory, LinearCost(base_s=0.01), max_run_steps=1)
    for _, prefill, decode, decodes, _ in holder[0].log:
        assert sum(n for _, n in prefill) + decodes <= 64
    first = holder[0].log[0]
    assert first[1] == [(0, 64)]                  # a 64-token chunk of request 0's prompt
    assert holder[0].log[1][1] == [(0, 36), (1, 28)]


def test_chunked_splits_a_long_prompt_across_steps_and_samples_once():
    cost = LinearCost(base_s=0.01)
    (request,) = requests = make_requests([1000], [3])
    run(requests, lambda: ChunkedPrefillPolicy(4, 256), cost, max_run_steps=1)
    chunks = [s.prefill_chunks for s in cost.shapes if s.prefill_chunks]
    assert chunks == [((256, 0),), ((256, 256),), ((256, 512),), ((232, 768),)]
    assert request.first_token_s == pytest.approx(0.04)
    assert request.finish_s == pytest.approx(0.06)


def test_no_request_decodes_before_its_prefill_completes():
    cost = LinearCost(base_s=0.01)
    requests = make_requests([300, 20], [4, 4])
    run(requests, lambda: ChunkedPrefillPolicy(4, 128), cost, max_run_steps=1)
    # chunks 128, 128, then 44 with request 1's 20-token prompt: nobody decodes before step 4
    decode_counts = [s.decode_count for s in cost.shapes]
    assert requests[0].first_token_s == pytest.approx(0.03)
    assert requests[1].first_token_s == pytest.approx(0.03)
    assert decode_counts[:4] == [0, 0, 0, 2]


def test_chunked_rejects_contradictory_knobs():
    with pytest.raises(ValueError, match="below max_num_seqs"):
        ChunkedPrefillPolicy(256, 128)
