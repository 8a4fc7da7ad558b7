"""Capacity plan: the fewest replicas that meet latency objectives over a whole trace.

Every answer is a simulation of the whole trace (or of one window of it), never an
extrapolation: the replica count comes from galloping and bisecting on the count
(planning.search), and the evidence is the full summary at that count and at one fewer. The
highest sustainable rate per replica bisects the rate scale of the trace replayed through the
planned fleet, to a stated relative tolerance: a round-robin replica sees every N-th request, a
far steadier stream than the trace itself, so one replica facing the whole trace at 1/N of its
rate would understate what it sustains in the fleet. Per-window requirements replay each window
(default 10 minutes, re-based to start empty) on its own: the busiest window shows which peak
sets the count, and the sum over windows prices autoscaling. Counts are replicas; GPUs are
replicas x tensor-parallel GPUs per replica. Rates are requests per second, times seconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from batchsim.limits import DEFAULT_LIMITS, Limits
from batchsim.planning.evaluate import Evaluator, Verdict
from batchsim.planning.scenario import Scenario, with_overrides
from batchsim.planning.search import fewest_meeting, highest_meeting_scale
from batchsim.planning.slo import format_slo
from batchsim.planning.windows import split_windows


@dataclass(frozen=True)
class PlanOptions:
    """How hard the planner searches."""

    window_s: float | None = 600.0  # None: no per-window requirement
    rate_tolerance: float = 0.03  # relative width of the sustainable-rate bracket
    max_replicas: int = 1024
    rate_probes: int = 2  # scales asked per round of the rate search (run in parallel)
    limits: Limits = DEFAULT_LIMITS  # stated size limits (windows)

    def __post_init__(self) -> None:
        if self.window_s is not None and not self.window_s > 0:
            raise ValueError(f"window must be positive, got {self.window_s} s")
        if not 0 < self.rate_tolerance < 1:
            raise ValueError(f"rate tolerance must be in (0, 1), got {self.rate_tolerance}")
        if self.max_replicas < 1:
            raise ValueError(f"max replicas must be at least 1, got {self.max_replicas}")
        if self.rate_probes < 1:
            raise ValueError(f"rate probes must be at least 1, got {self.rate_probes}")


@dataclass(frozen=True)
class RateFinding:
    """Highest rate the planned fleet sustains within the objectives, as a bracket.

    The trace is replayed through the planned replicas with its arrival times divided by a
    scale; the rate per replica is the scaled trace rate over the replica count.
    """

    meeting_scale: float  # trace rate multiplier verified to meet
    failing_scale: float  # and verified to fail
    trace_rate_per_s: float
    replicas: int
    extrapolation: dict | None = None  # the summary's entry for the run at the meeting scale

    @property
    def meeting_rate_per_replica(self) -> float:
        """Requests per second per replica verified to meet."""
        return self.meeting_scale * self.trace_rate_per_s / self.replicas

    @property
    def failing_rate_per_replica(self) -> float:
        """Requests per second per replica verified to fail."""
        return self.failing_scale * self.trace_rate_per_s / self.replicas


@dataclass(frozen=True)
class WindowNeed:
    """Fewest replicas meeting the objectives within one window replayed on its own."""

    index: int
    start_s: float
    end_s: float
    requests: int
    rate_per_s: float
    replicas: int  # 0 for a window without requests
    observed_s: dict = field(default_factory=dict)  # objective name -> value at that count


@dataclass
class Plan:
    """The answer and its evidence."""

    policy: str
    objectives: tuple
    replicas: int
    gpus_per_replica: int
    at_count: Verdict
    below: Verdict | None  # None when one replica suffices
    rate: RateFinding | None  # None: not bracketed within 1e-4..1e4 times the trace's rate
    windows: list[WindowNeed]
    trace_requests: int
    trace_span_s: float
    simulations: int
    cost_model: object = None  # the model that priced every step
    serving: object = None  # the resolved ServingConfig (its replica count is the scenario's)
    knobs_searched: tuple = ()  # (knob overrides, replicas or None: none up to the maximum)

    @property
    def gpus(self) -> int:
        """GPUs at the planned count."""
        return self.replicas * self.gpus_per_replica


def trace_span_s(table) -> float:
    """Seconds from the first arrival to the last."""
    arrival = np.asarray(table["arrival_s"], dtype=float)
    return float(arrival.max() - arrival.min()) if arrival.size else 0.0


def plan_capacity(scenario: Scenario, table, objectives, options: PlanOptions = PlanOptions(),
                  cost_model=None, pool=None, workers: int = 1, knob_candidates=(),
                  on_stage=None) -> Plan:
    """Plan ``scenario`` (its replica count is ignored) for ``table`` and ``objectives``.

    With several ``knob_candidates`` (scenario overrides, e.g. from
    planning.knob_search.static_knob_candidates) each one's replica count is searched and the
    fewest kept (ties: the first); the plan lists every candidate's count. ``on_stage()`` is
    called as each stage ends (the count, the rate, each window): see ``plan_stages``.

    With a process ``pool`` of ``workers`` processes each question's replicas are replayed in
    parallel (round-robin routing); the answers are the same as without one.
    """
    if len(table) == 0:
        raise ValueError("the trace has no requests to plan for")
    objectives = tuple(objectives)
    whole = Evaluator(scenario, table, objectives, cost_model, pool, workers)
    searched, simulations = (), 0
    if len(knob_candidates) > 1:
        whole, searched, simulations = _best_knobs(whole, knob_candidates, options.max_replicas,
                                                   pool, workers)
    elif knob_candidates:
        whole = Evaluator(with_overrides(scenario, knob_candidates[0]), table, objectives,
                          whole.prepared.cost_model, pool, workers)
    replicas = _fewest(whole, options.max_replicas)
    stage = on_stage or (lambda: None)
    stage()
    at_count = whole.verdict(replicas)
    below = whole.verdict(replicas - 1) if replicas > 1 else None
    span_s = trace_span_s(table)
    rate, windows = None, []
    if span_s > 0:
        trace_rate_per_s = len(table) / span_s
        rate = _rate(whole, replicas, trace_rate_per_s, options)
        stage()
        parts = (split_windows(table, options.window_s, options.limits)
                 if options.window_s is not None else [])
        if len(parts) > 1:  # one window is the whole trace again
            tasks = [WindowTask(whole.scenario, whole.prepared.cost_model, objectives, options,
                                w.index, w.start_s, w.end_s, w.table,
                                max(1, round(replicas * w.rate_per_s / trace_rate_per_s)))
                     for w in parts]
            mapper = pool.map if pool is not None else map
            for need, count in mapper(window_requirement, tasks):
                stage()
                windows.append(need)
                simulations += count
    serving = whole.prepared.serving
    return Plan(serving.policy, objectives, replicas, serving.tensor_parallel_size, at_count,
                below, rate, windows, len(table), span_s, simulations + whole.simulations,
                whole.prepared.cost_model, serving, searched)


def plan_stages(table, options: PlanOptions) -> int:
    """How many times plan_capacity calls ``on_stage`` for ``table`` (for progress bars)."""
    if trace_span_s(table) <= 0:
        return 1
    windows = (len(split_windows(table, options.window_s, options.limits))
               if options.window_s is not None else 0)
    return 2 + (windows if windows > 1 else 0)


def _best_knobs(first: Evaluator, candidates, max_replicas: int, pool, workers: int):
    """The evaluator of the candidate needing the fewest replicas, (knobs, count) of each, and
    the simulations the others ran.

    Each search after the first starts from the fewest count found so far: knobs that differ
    little need about as many replicas, and a search started at its answer asks two questions
    (that count and one fewer) where one started at 1 gallops and bisects through slow
    near-threshold runs. The counts are those of searches from 1 wherever the answer flips once
    (tests/planning/test_plan.py checks them against a scan of every count)."""
    tried, counts = [], []
    for knobs in candidates:
        evaluator = Evaluator(with_overrides(first.scenario, knobs), first.table,
                              first.objectives, first.prepared.cost_model, pool, workers)
        guess = min((c for c in counts if c is not None), default=1)
        try:
            count = fewest_meeting(evaluator.meets, guess, max_replicas)
        except ValueError:
            count = None
        tried.append(evaluator)
        counts.append(count)
    found = [i for i, count in enumerate(counts) if count is not None]
    best = tried[min(found, key=lambda i: counts[i]) if found else 0]
    others = sum(e.simulations for e in tried if e is not best)
    return best, tuple(zip((dict(k) for k in candidates), counts)), others


def _fewest(evaluator: Evaluator, max_replicas: int) -> int:
    try:
        return fewest_meeting(evaluator.meets, 1, max_replicas)
    except ValueError:
        summary = evaluator.verdict(max_replicas).summary
        seen = ", ".join(f"{o.name} {o.observed_s(summary) * 1000:,.1f} ms"
                         for o in evaluator.objectives)
        slo = format_slo(evaluator.objectives)
        raise ValueError(f"no replica count up to {max_replicas} meets {slo} (at {max_replicas} "
                         f"replicas: {seen}; raise --max-replicas or relax the SLO)") from None


def _rate(whole: Evaluator, replicas: int, trace_rate_per_s: float,
          options: PlanOptions) -> RateFinding | None:
    # The planned fleet meets at scale 1 (known from the count search) and one replica fewer
    # does not, which is roughly the fleet at replicas / (replicas - 1) times the rate: the
    # first scale to ask about.
    failing = replicas / (replicas - 1) if replicas > 1 else 2.0
    try:
        bracket = highest_meeting_scale(
            lambda scales: whole.meets_many([(replicas, s) for s in scales]), 1.0, failing,
            options.rate_tolerance, probes=options.rate_probes, known_meeting=True)
    except ValueError:  # still met at 10,000 times the rate: nothing to bracket
        return None
    if bracket is None:
        return None
    summary = whole.verdict(replicas, bracket.meeting, full=False).summary or {}
    return RateFinding(bracket.meeting, bracket.failing, trace_rate_per_s, replicas,
                       summary.get("extrapolation"))


@dataclass(frozen=True)
class WindowTask:
    """One window's search, for a worker process (its questions run there, in turn)."""

    scenario: Scenario
    cost_model: object
    objectives: tuple
    options: PlanOptions
    index: int
    start_s: float
    end_s: float
    table: object
    guess: int


def window_requirement(task: WindowTask) -> tuple[WindowNeed, int]:
    """Fewest replicas for one window replayed on its own and the simulations run."""
    requests = len(task.table)
    if requests == 0:
        return WindowNeed(task.index, task.start_s, task.end_s, 0, 0.0, 0), 0
    evaluator = Evaluator(task.scenario, task.table, task.objectives, task.cost_model)
    count = fewest_meeting(evaluator.meets, task.guess, task.options.max_replicas)
    summary = evaluator.verdict(count).summary
    observed = {o.name: o.observed_s(summary) for o in task.objectives}
    need = WindowNeed(task.index, task.start_s, task.end_s, requests,
                      requests / (task.end_s - task.start_s), count, observed)
    return need, evaluator.simulations
