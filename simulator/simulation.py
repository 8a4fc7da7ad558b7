"""The SimPy event loop: arrivals routed to replicas, each replica a process that runs steps.

This is the only module that imports SimPy. A replica process asks its policy for a step (reading the replica's view), holds
the clock for the cost model's step time, then records the step's tokens; an idle replica sleeps
until a request arrives or until the time its policy asked to be woken (static max wait).
Events are few and large: a run of identical decode steps is one step event, and the steps a
replica finishes before the next arrival that may reach it need no event at all (see _serve).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import simpy

from batchsim.simulator.kv_cache import BlockManager
from batchsim.simulator.metrics import Recorder
from batchsim.simulator.prefix_cache import PrefixCache
from batchsim.simulator.replica import Replica
from batchsim.simulator.request import FINISHED, REJECTED, Request
from batchsim.simulator.router import make_router
from batchsim.simulator.workload import TraceColumns


@dataclass
class ReplicaSetup:
    """What every replica of a cluster is built from."""

    make_policy: Callable[[], object]
    cost_model: object
    kv_blocks: int
    block_size: int
    watermark_blocks: int
    max_model_len: int
    swap_preemption: bool = False
    prefix_caching: bool = False
    prefix_block_tokens: int | None = None  # tokens per id of the requests' prefix_block_ids


@dataclass
class SimulationResult:
    """Everything a summary or a CSV export needs: the recorder holds the measurements."""

    trace: TraceColumns
    recorder: Recorder
    replicas: list[Replica]
    end_s: float


def simulate(requests: Sequence[Request] | TraceColumns, setup: ReplicaSetup,
             num_replicas: int = 1, router: str = "round-robin",
             max_run_steps: int | None = None, recorder: Recorder | None = None,
             on_routed=None) -> SimulationResult:
    """Replay ``requests`` (Request objects or TraceColumns, sorted by arrival) through
    ``num_replicas`` replicas.

    Runs of identical decode steps advance in one event; ``max_run_steps=1`` steps one at a
    time (the reference the run mechanism is tested against). ``recorder`` (built for this
    trace) chooses streaming and a sink; by default a Recorder that keeps small runs whole.
    ``on_routed(count)``, if given, is told how many requests have been routed, every
    ``PROGRESS_EVERY`` requests (progress bars); it must not touch the simulation.
    """
    if num_replicas < 1:
        raise ValueError("replicas must be at least 1")
    trace = requests if isinstance(requests, TraceColumns) else TraceColumns.of_requests(requests)
    env = simpy.Environment()
    recorder = recorder or Recorder(trace)
    replicas = [_make_replica(i, setup, recorder) for i in range(num_replicas)]
    wakeups: list[simpy.Event | None] = [None] * num_replicas
    router_ = make_router(router)
    for replica in replicas:
        replica.state_observed = router_.reads_state
    arrivals = _Arrivals(trace, router_, num_replicas)
    for replica in replicas:
        env.process(_serve(env, replica, wakeups, arrivals, max_run_steps))
    env.process(_arrive(env, arrivals, replicas, router_, wakeups, recorder, on_routed))
    env.run()
    end_s = max([env.now] + [replica.clock_s for replica in replicas])
    _close_unfinished(recorder, end_s)
    recorder.close()
    return SimulationResult(trace, recorder, replicas, end_s)


def _make_replica(index: int, setup: ReplicaSetup, recorder: Recorder) -> Replica:
    kv = BlockManager(setup.kv_blocks, setup.block_size, setup.watermark_blocks)
    cache = PrefixCache(kv, setup.prefix_block_tokens) if setup.prefix_caching else None
    return Replica(index, setup.make_policy(), setup.cost_model, kv, setup.max_model_len,
                   recorder, setup.swap_preemption, cache)


class _Arrivals:
    """The trace in arrival order, and when each replica can next receive a request."""

    def __init__(self, trace: TraceColumns, router, num_replicas: int) -> None:
        self.trace = trace
        self.arrival_s = trace.arrival_s
        self.router = router
        self.num_replicas = num_replicas
        self.position = 0  # requests before it have been routed

    def horizon_s(self, replica_index: int) -> float:
        """Arrival time of the next request that may be routed to ``replica_index``."""
        position = self.position + self.router.arrivals_before(replica_index, self.num_replicas)
        return self.arrival_s[position] if position < len(self.arrival_s) else math.inf


PROGRESS_EVERY = 4096


def _arrive(env, arrivals: _Arrivals, replicas, router, wakeups, recorder: Recorder,
            on_routed=None):
    # requests are built as they arrive: the trace stays columns
    trace, arrival_s = arrivals.trace, arrivals.arrival_s
    for position in range(len(trace)):
        if on_routed is not None and position % PROGRESS_EVERY == 0:
            on_routed(position)
        delay = arrival_s[position] - env.now
        if delay > 0:
            yield env.timeout(delay)
        request = trace.request(position)
        recorder.arrived(request, position)
        index = router.choose(replicas)
        arrivals.position = position + 1
        replicas[index].enqueue(request, env.now)
        wake = wakeups[index]
        if wake is not None and not wake.triggered:
            wake.succeed()


def _serve(env, replica: Replica, wakeups, arrivals: _Arrivals, max_run_steps):
    # Between two arrivals that may reach it, a replica's steps touch nothing outside it, so
    # steps that end before the next such arrival are applied at once on the replica's own
    # clock (now_s, ahead of env.now); only a step that reaches the arrival, or an idle wait,
    # goes through SimPy. The reference mode (max_run_steps set) yields every step.
    policy, view = replica.policy, replica.view
    chain = max_run_steps is None
    now_s = env.now
    routed = -1  # arrivals routed when horizon_s was last asked: it changes only with them
    while True:
        step = policy.schedule(view, now_s)
        if not (step.decode or step.tokens or step.preempt):  # Step.is_idle, inlined
            wake = wakeups[replica.index] = env.event()
            if step.wake_at_s is not None:
                yield wake | env.timeout(max(0.0, step.wake_at_s - env.now))
            else:
                yield wake
            wakeups[replica.index] = None
            now_s = env.now
            continue
        if arrivals.position != routed:
            routed = arrivals.position
            horizon_s = arrivals.horizon_s(replica.index)
        end_s = replica.begin_step(step, now_s, horizon_s, max_run_steps)
        if chain and end_s < horizon_s:
            replica.finish_step(end_s)
            now_s = end_s
            continue
        yield env.timeout(end_s - env.now)
        now_s = env.now
        replica.finish_step(now_s)


def _close_unfinished(recorder: Recorder, end_s: float) -> None:
    # A request still queued when no event remains means the policy could never schedule it:
    # report it as rejected with that reason rather than dropping it.
    for request in recorder.outcomes.pending():
        if request.status not in (FINISHED, REJECTED):
            request.status = REJECTED
            request.reason = "never scheduled: the policy could not fit it with the configured knobs"
            request.finish_s = end_s
            recorder.request_done(request)
