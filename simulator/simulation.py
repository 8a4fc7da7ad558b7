"""The SimPy event loop: arrivals routed to replicas, each replica a process that runs steps.

This is the only module that imports SimPy. A replica process asks its policy for a batch, holds
the clock for the cost model's step time, then records the step's tokens; an idle replica sleeps
until a request arrives or until the time its policy asked to be woken (static max wait).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import simpy

from simulator.kv_cache import BlockManager
from simulator.metrics import Recorder
from simulator.replica import Replica
from simulator.request import FINISHED, REJECTED, Request
from simulator.router import make_router


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


@dataclass
class SimulationResult:
    """Everything a summary or a CSV export needs."""

    requests: list[Request]
    recorder: Recorder
    replicas: list[Replica]
    end_s: float


def simulate(requests: Sequence[Request], setup: ReplicaSetup, num_replicas: int = 1,
             router: str = "round-robin", max_run_steps: int | None = None) -> SimulationResult:
    """Replay ``requests`` (sorted by arrival) through ``num_replicas`` replicas.

    Runs of identical decode steps advance in one event; ``max_run_steps=1`` steps one at a
    time (the reference the run mechanism is tested against).
    """
    if num_replicas < 1:
        raise ValueError("replicas must be at least 1")
    env = simpy.Environment()
    recorder = Recorder()
    replicas = [
        Replica(i, setup.make_policy(), setup.cost_model,
                BlockManager(setup.kv_blocks, setup.block_size, setup.watermark_blocks),
                setup.max_model_len, recorder, setup.swap_preemption)
        for i in range(num_replicas)
    ]
    wakeups: list[simpy.Event | None] = [None] * num_replicas
    arrivals = _Arrivals(requests)
    for replica in replicas:
        env.process(_serve(env, replica, wakeups, arrivals, max_run_steps))
    env.process(_arrive(env, arrivals, replicas, make_router(router), wakeups))
    env.run()
    _close_unfinished(requests, recorder, env.now)
    return SimulationResult(list(requests), recorder, replicas, env.now)


class _Arrivals:
    """The trace in arrival order, and the time of the next request not yet routed."""

    def __init__(self, requests: Sequence[Request]) -> None:
        self.requests = requests
        self.next_s = requests[0].arrival_s if len(requests) else math.inf

    def advance(self, position: int) -> None:
        """Note that requests before ``position`` have been routed."""
        self.next_s = self.requests[position].arrival_s if position < len(self.requests) else math.inf


def _arrive(env, arrivals: _Arrivals, replicas, router, wakeups):
    for position, request in enumerate(arrivals.requests):
        delay = request.arrival_s - env.now
        if delay > 0:
            yield env.timeout(delay)
        arrivals.advance(position + 1)
        index = router.choose(replicas)
        replicas[index].enqueue(request, env.now)
        wake = wakeups[index]
        if wake is not None and not wake.triggered:
            wake.succeed()


def _serve(env, replica: Replica, wakeups, arrivals: _Arrivals, max_run_steps):
    policy = replica.policy
    while True:
        batch = policy.schedule(replica, env.now)
        if batch.is_idle:
            wake = wakeups[replica.index] = env.event()
            if batch.wake_at_s is not None:
                yield wake | env.timeout(max(0.0, batch.wake_at_s - env.now))
            else:
                yield wake
            wakeups[replica.index] = None
            continue
        duration_s = replica.begin_step(batch, env.now, arrivals.next_s, max_run_steps)
        yield env.timeout(duration_s)
        replica.finish_step(batch, env.now)


def _close_unfinished(requests, recorder: Recorder, end_s: float) -> None:
    # A request still queued when no event remains means the policy could never schedule it:
    # report it as rejected with that reason rather than dropping it.
    for request in requests:
        if request.status not in (FINISHED, REJECTED):
            request.status = REJECTED
            request.reason = "never scheduled: the policy could not fit it with the configured knobs"
            request.finish_s = end_s
            recorder.request_done(request)
