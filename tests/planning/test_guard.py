"""The early stop (planning.guard) decides a failing question at the exact request that settles
it, computed by hand, and gives the full run's verdict."""
import numpy as np
import pytest

from batchsim.planning.evaluate import guarded_simulate
from batchsim.planning.guard import ObjectivesFailed, ViolationTally
from batchsim.planning.slo import Objective, meets, violations_needed
from batchsim.policies.static import StaticPolicy
from batchsim.simulator.request import FINISHED
from batchsim.simulator.simulation import ReplicaSetup
from batchsim.simulator.summary import summarize
from batchsim.simulator.workload import TraceColumns
from tests.helpers import LinearCost, make_requests

REQUESTS = 20


def one_at_a_time():
    # 20 one-token requests arrive together; batches of one, each prefill 1 s (the whole step
    # is LinearCost's base): request k (1-based) gets its only token, and finishes, at k s
    requests = make_requests([10] * REQUESTS, [1] * REQUESTS)
    setup = ReplicaSetup(lambda: StaticPolicy(1), LinearCost(base_s=1.0), 10_000, 16, 0,
                         100_000)
    return TraceColumns.of_requests(requests), setup, requests


def test_a_failing_question_stops_at_the_request_that_settles_it():
    trace, setup, requests = one_at_a_time()
    objective = Objective("ttft", 50, 2.5)
    # TTFTs are 1, 2, ..., 20 s: 18 exceed 2.5 s. The median of 20 values interpolates ranks 9
    # and 10 (0-based), so 20 - 9 + 1 = 12 values over the limit put it over whatever the
    # rest are: the 12th violation is the request finishing at 14 s
    assert violations_needed(REQUESTS, 50) == 12
    tally = ViolationTally((objective,), REQUESTS, 0)
    with pytest.raises(ObjectivesFailed, match="ttft_p50: 12 requests over the limit"):
        guarded_simulate(trace, setup, 1, "round-robin", tally)
    assert tally.counts == [12]
    finished = [r.finish_s for r in requests if r.status == FINISHED]
    assert finished == [float(k) for k in range(1, 15)]  # stopped as request 14 finished
    # the full run agrees: its median TTFT is 10.5 s (fresh requests: a run changes them)
    trace, setup, _ = one_at_a_time()
    full = summarize(guarded_simulate(trace, setup, 1, "round-robin", None))
    assert full["p50_ttft_ms"] == pytest.approx(np.percentile(np.arange(1, 21), 50) * 1000)
    assert not meets(full, (objective,))


def test_one_violation_short_of_the_bound_runs_to_the_end():
    trace, setup, _ = one_at_a_time()
    # 11 TTFTs (10 ... 20 s) exceed 9.5 s, one fewer than the 12 that settle it: the run ends,
    # and its summary (median 10.5 s) says it fails; the guard only fires when it must
    objective = Objective("ttft", 50, 9.5)
    tally = ViolationTally((objective,), REQUESTS, 0)
    result = guarded_simulate(trace, setup, 1, "round-robin", tally)
    assert tally.counts == [11]
    assert not meets(summarize(result), (objective,))


def test_a_meeting_question_is_never_stopped():
    trace, setup, _ = one_at_a_time()
    objective = Objective("ttft", 50, 11.0)  # median 10.5 s: met, 9 requests over
    tally = ViolationTally((objective,), REQUESTS, 0)
    result = guarded_simulate(trace, setup, 1, "round-robin", tally)
    assert tally.counts == [9]
    assert meets(summarize(result), (objective,))
