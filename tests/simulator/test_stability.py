"""A run's verdict follows the queue: flat delay is stable, steady growth is overload."""
import numpy as np
import pytest

from batchsim.policies import StaticPolicy
from batchsim.simulator.stability import stability
from batchsim.simulator.summary import summarize
from tests.helpers import LinearCost, make_requests, run


def judge(arrival, queue, service):
    arrival, queue = np.array(arrival, float), np.array(queue, float)
    finish = arrival + queue + service
    return stability(arrival, queue, finish, np.ones(arrival.size, bool))


def test_equal_delays_throughout_are_stable():
    assert judge(range(9), [0.01] * 9, 0.5)["verdict"] == "stable"


def test_one_server_fed_faster_than_it_serves_is_overloaded():
    # one request a second, two seconds of service each, first come first served: request k
    # waits k seconds; thirds of arrivals 0..8 s wait 1, 4 and 7 s on average; at 5.33 s six
    # have arrived and two finished (backlog 4), at 8 s nine and four (backlog 5)
    arrival = np.arange(9.0)
    queue = arrival.copy()
    verdict = judge(arrival, queue, 2.0)
    assert verdict["verdict"] == "overloaded"
    assert verdict["queue_delay_by_third_ms"] == pytest.approx([1000.0, 4000.0, 7000.0])
    assert verdict["backlog_growth"] == 1


def test_a_burst_that_drains_is_backlogged_not_overloaded():
    verdict = judge(range(9), [0, 0, 0, 5, 5, 5, 3, 3, 3], 1.0)
    assert verdict["verdict"] == "backlogged"


def test_requests_arriving_at_once_have_no_trend():
    assert judge([0.0, 0.0], [0.0, 1.0], 1.0)["verdict"] == "batch"


def test_summary_carries_the_verdict_of_a_simulated_overload():
    # static batches of 1, 1 s per step, 3 output tokens: 3 s per request; one arrives a second
    requests = make_requests([10] * 12, [3] * 12, arrivals=[float(i) for i in range(12)])
    result = run(requests, lambda: StaticPolicy(1), LinearCost(base_s=1.0))
    assert summarize(result)["verdict"] == "overloaded"
