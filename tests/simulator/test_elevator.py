"""The seed articles' elevator: static batching wastes slots, continuous keeps them full."""
import pytest

from batchsim.policies import ContinuousPolicy, StaticPolicy
from batchsim.simulator.summary import summarize
from tests.helpers import LinearCost, make_requests, run

LENGTHS = [50, 2000, 200, 1500, 75, 640, 333, 1200]


def test_static_slot_utilization_is_sum_over_b_times_max():
    requests = make_requests([10] * 8, LENGTHS)
    summary = summarize(run(requests, lambda: StaticPolicy(8)))
    assert summary["slot_utilization"] == pytest.approx(sum(LENGTHS) / (8 * max(LENGTHS)), rel=1e-12)


def test_static_batch_lasts_as_long_as_its_longest_request():
    cost = LinearCost(base_s=0.01)
    requests = make_requests([10] * 8, LENGTHS)
    result = run(requests, lambda: StaticPolicy(8), cost, max_run_steps=1)
    # one prefill step plus max(L) - 1 decode steps, every row padded along
    assert len(cost.shapes) == max(LENGTHS)
    assert all(s.decode_count == 8 for s in cost.shapes[1:])
    for request in requests:
        assert request.finish_s == pytest.approx(0.01 * request.output_tokens)
    assert result.end_s == pytest.approx(0.01 * max(LENGTHS))


def test_continuous_with_a_standing_backlog_keeps_slots_full():
    lengths = (LENGTHS * 40)[:300]
    requests = make_requests([10] * len(lengths), lengths)
    summary = summarize(run(requests, lambda: ContinuousPolicy(8, 4096)))
    # every finish costs one prefill-only step in which at most a few slots sample; decode
    # steps fill all 8 slots: utilization = 1 - (prefill-step idle share), here above 0.9
    assert summary["slot_utilization"] > 0.9
    static = summarize(run(make_requests([10] * len(lengths), lengths), lambda: StaticPolicy(8)))
    assert summary["slot_utilization"] > 1.5 * static["slot_utilization"]
