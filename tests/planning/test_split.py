"""Round-robin replicas replayed one at a time give the shared replay's results."""
import numpy as np
import pytest

from batchsim.planning.scenario import Scenario, prepare, with_overrides
from batchsim.planning.split import round_robin_shares, simulate_round_robin
from batchsim.simulator.export import requests_frame, steps_frame
from batchsim.simulator.simulation import simulate
from batchsim.simulator.summary import summarize
from batchsim.simulator.workload import requests_from_table
from tests.planning.traces import poisson_trace


def test_shares_take_every_nth_request_in_arrival_order():
    table = poisson_trace(10, 5.0).iloc[::-1]  # unsorted input
    shares = round_robin_shares(table, 3)
    assert [list(s["request_id"]) for s in shares] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]


@pytest.mark.parametrize("policy", ["static", "continuous", "chunked"])
def test_split_replay_equals_shared_replay(policy):
    table = poisson_trace(900, 25.0, seed=1)
    setup = prepare(with_overrides(Scenario(profile="roofline"), {"policy": policy})).setup
    shared = simulate(requests_from_table(table), setup, 3)
    split = simulate_round_robin(table, setup, 3)
    a, b = requests_frame(shared), requests_frame(split)
    assert list(a["request_id"]) == list(b["request_id"])
    assert list(a["replica"]) == list(b["replica"]) and list(a["status"]) == list(b["status"])
    for column in ("first_token_s", "finish_s", "queue_s"):
        # decode runs end at sums of step times, cut at different arrivals: rounding only
        np.testing.assert_allclose(a[column], b[column], rtol=1e-11, atol=1e-9)
    one, two = summarize(shared), summarize(split)
    for key in ("completed", "rejected", "num_steps", "preemptions", "max_batch_size",
                "kv_capacity_blocks", "total_output_tokens"):
        assert one[key] == two[key]
    for key in ("p99_ttft_ms", "p99_tpot_ms", "p99_e2el_ms", "p99_itl_ms", "mean_itl_ms",
                "peak_kv_usage", "gpu_busy_fraction", "slot_utilization", "mean_batch_size"):
        assert one[key] == pytest.approx(two[key], rel=1e-9)
    # KV usage is sampled when a step or decode run starts; a shared replay cuts runs at every
    # replica's arrivals, so it samples more often: the mean moves slightly, nothing else does
    assert one["mean_kv_usage"] == pytest.approx(two["mean_kv_usage"], rel=0.01)
    steps = steps_frame(split)
    assert (np.diff(steps["start_s"]) >= 0).all()
    assert sorted(steps["replica"].unique()) == [0, 1, 2]
