"""Routers spread requests as their names say; more replicas never hurt with round-robin."""
from batchsim.policies import ContinuousPolicy
from batchsim.simulator.summary import summarize
from tests.helpers import LinearCost, make_requests, run


def test_round_robin_cycles_through_replicas():
    requests = make_requests([10] * 7, [5] * 7, arrivals=[i * 0.001 for i in range(7)])
    run(requests, lambda: ContinuousPolicy(8, 4096), replicas=3)
    assert [r.replica for r in requests] == [0, 1, 2, 0, 1, 2, 0]


def test_routers_say_how_many_arrivals_go_elsewhere_first():
    from batchsim.simulator.router import LeastOutstandingRouter, RoundRobinRouter

    router = RoundRobinRouter()
    router.choose([None] * 3)  # request 0 went to replica 0; request 1 goes to replica 1
    assert [router.arrivals_before(i, 3) for i in range(3)] == [2, 0, 1]
    assert LeastOutstandingRouter().arrivals_before(2, 3) == 0


def test_least_outstanding_avoids_the_busy_replica():
    # request 0 is long and occupies replica 0; later short requests go elsewhere first
    requests = make_requests([10, 10, 10, 10], [500, 2, 2, 2], arrivals=[0, 0.5, 0.6, 0.7])
    run(requests, lambda: ContinuousPolicy(8, 4096), LinearCost(base_s=0.01), replicas=2,
        router="least-outstanding")
    assert requests[0].replica == 0
    assert [r.replica for r in requests[1:]] == [1, 1, 1]


def test_more_replicas_do_not_worsen_p99_latency():
    arrivals = [i * 0.02 for i in range(200)]
    p99 = []
    for replicas in (1, 2, 4):
        requests = make_requests([50] * 200, [40] * 200, arrivals)
        summary = summarize(run(requests, lambda: ContinuousPolicy(4, 4096),
                                LinearCost(base_s=0.01, decode_seq_s=0.002), replicas=replicas))
        p99.append(summary["p99_e2el_ms"])
    assert p99[0] >= p99[1] >= p99[2]
