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
from batchsim.planning.evaluate import Evaluator, Runs, Verdict
from batchsim.planning.scenario import Scenario, with_overrides
from batchsim.planning.search import fewest_meeting, highest_meeting_scale
from batchsim.planning.slo import format_slo
from batchsim.planning.windows import split_windows
from batchsim.traces.columns import num_rows


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


@dataclass(frozen=True)
class KnobResult:
    """What the knob search learned of one candidate's replica count."""

    knobs: dict
    replicas: int | None  # the fewest meeting; None: none up to the maximum, or not searched
    at_least: int | None = None  # not searched further: fails below this, the fewest so far


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
    knobs_searched: tuple = ()  # a KnobResult per static knob candidate tried
    stopped_early: int = 0  # of the simulations, those decided failing before their end

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
    planning.knob_search.static_knob_candidates) the candidate needing the fewest replicas is
    kept (ties: the first); see ``_best_knobs``. ``on_stage()`` is called as each stage ends
    (the count, the rate, each window): see ``plan_stages``.

    With a process ``pool`` of ``workers`` processes each question's replicas are replayed in
    parallel (round-robin routing); the answers are the same as without one. The stages are
    ``count_stage``, ``rate_stage`` and the ``window_tasks``, which planning.plan_parallel runs
    as separate tasks for several layouts at once.
    """
    stage = on_stage or (lambda: None)
    found = count_stage(scenario, table, objectives, options, cost_model, pool, workers,
                        knob_candidates)
    stage()
    rate, rate_runs = None, Runs()
    needs = []
    if trace_span_s(table) > 0:
        rate, rate_runs = rate_stage(found, table, options, pool, workers)
        stage()
        mapper = pool.map if pool is not None else map
        for need in mapper(window_requirement, window_tasks(found, table, options)):
            stage()
            needs.append(need)
    return assemble(found, table, rate, rate_runs, needs)


@dataclass
class CountFinding:
    """The count stage's answer and evidence: what the rate and window stages start from."""

    scenario: Scenario  # with the chosen knobs
    cost_model: object
    serving: object  # the resolved ServingConfig
    objectives: tuple
    replicas: int
    at_count: Verdict
    below: Verdict | None
    searched: tuple  # a KnobResult per knob candidate
    runs: Runs


def count_stage(scenario: Scenario, table, objectives, options: PlanOptions, cost_model=None,
                pool=None, workers: int = 1, knob_candidates=()) -> CountFinding:
    """The fewest replicas (knob candidates searched), with full summaries at it and one fewer."""
    if num_rows(table) == 0:
        raise ValueError("the trace has no requests to plan for")
    objectives = tuple(objectives)
    whole = Evaluator(scenario, table, objectives, cost_model, pool, workers)
    searched, runs = (), Runs()
    if len(knob_candidates) > 1:
        whole, searched, runs = _best_knobs(whole, knob_candidates, options.max_replicas,
                                                   pool, workers)
    elif knob_candidates:
        whole = Evaluator(with_overrides(scenario, knob_candidates[0]), table, objectives,
                          whole.prepared.cost_model, pool, workers)
    replicas = _fewest(whole, options.max_replicas)
    # the count below was asked in full where the search knew it for the count below a meeting
    # one (fewest_meeting's meets_below_known): its evidence is not run a second time
    at_count = whole.verdict(replicas)
    below = whole.verdict(replicas - 1) if replicas > 1 else None
    return CountFinding(whole.scenario, whole.prepared.cost_model, whole.prepared.serving,
                        objectives, replicas, at_count, below, searched,
                        runs + whole.runs)


def rate_stage(found: CountFinding, table, options: PlanOptions, pool=None,
               workers: int = 1) -> tuple[RateFinding | None, Runs]:
    """The sustainable-rate bracket at the planned count and the simulations it ran (call only
    for a trace spanning some time)."""
    evaluator = Evaluator(found.scenario, table, found.objectives, found.cost_model, pool, workers)
    evaluator.remember(found.at_count)  # the count stage's run at scale 1, never run again
    rate = _rate(evaluator, found.replicas, num_rows(table) / trace_span_s(table), options)
    return rate, evaluator.runs


def window_tasks(found: CountFinding, table, options: PlanOptions) -> list:
    """One WindowTask per window (none for a single window: that is the whole trace again)."""
    span_s = trace_span_s(table)
    parts = (split_windows(table, options.window_s, options.limits)
             if options.window_s is not None and span_s > 0 else [])
    if len(parts) <= 1:
        return []
    trace_rate_per_s = num_rows(table) / span_s
    return [WindowTask(found.scenario, found.cost_model, found.objectives, options, w.index,
                       w.start_s, w.end_s, w.table,
                       max(1, round(found.replicas * w.rate_per_s / trace_rate_per_s)))
            for w in parts]


def assemble(found: CountFinding, table, rate: RateFinding | None, rate_runs: Runs,
             needs: list) -> Plan:
    """The plan from its stages' results (``needs``: window_requirement's, in window order)."""
    serving = found.serving
    runs = sum((window_runs for _, window_runs in needs), found.runs + rate_runs)
    return Plan(serving.policy, found.objectives, found.replicas, serving.tensor_parallel_size,
                found.at_count, found.below, rate, [need for need, _ in needs], num_rows(table),
                trace_span_s(table), runs.simulations, found.cost_model, serving, found.searched,
                runs.stopped_early)


def plan_stages(table, options: PlanOptions) -> int:
    """How many times plan_capacity calls ``on_stage`` for ``table`` (for progress bars)."""
    if trace_span_s(table) <= 0:
        return 1
    windows = (len(split_windows(table, options.window_s, options.limits))
               if options.window_s is not None else 0)
    return 2 + (windows if windows > 1 else 0)


def _best_knobs(first: Evaluator, candidates, max_replicas: int, pool, workers: int):
    """The evaluator of the candidate needing the fewest replicas, a KnobResult for each, and
    the simulations the others ran.

    The first candidate's count is searched from 1. A later one only matters if it needs fewer
    replicas than the fewest so far, so it is asked first at one fewer than that: failing there,
    it is recorded as needing at least the fewest (ties keep the first) and not searched further
    (its exact count would cost several slow near-threshold runs and change no answer);
    meeting there, its count is searched down from that point. The answer is the one a search
    of every candidate from 1 gives wherever the answer flips once (tests/planning/test_plan.py
    checks it against a scan of every count)."""
    tried, results = [], []
    for knobs in candidates:
        evaluator = Evaluator(with_overrides(first.scenario, knobs), first.table,
                              first.objectives, first.prepared.cost_model, pool, workers)
        fewest = min((r.replicas for r in results if r.replicas is not None), default=None)
        if fewest is not None and (fewest == 1 or not evaluator.meets(fewest - 1)):
            result = KnobResult(dict(knobs), None, fewest)
        else:
            try:
                count = fewest_meeting(evaluator.meets, fewest - 1 if fewest else 1, max_replicas,
                                       evaluator.meets_in_full)
            except ValueError:
                count = None
            result = KnobResult(dict(knobs), count)
        tried.append(evaluator)
        results.append(result)
    found = [i for i, r in enumerate(results) if r.replicas is not None]
    best = tried[min(found, key=lambda i: results[i].replicas) if found else 0]
    others = sum((e.runs for e in tried if e is not best), Runs())
    return best, tuple(results), others


def _fewest(evaluator: Evaluator, max_replicas: int) -> int:
    try:
        return fewest_meeting(evaluator.meets, 1, max_replicas, evaluator.meets_in_full)
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


def window_requirement(task: WindowTask) -> tuple[WindowNeed, Runs]:
    """Fewest replicas for one window replayed on its own and the simulations run."""
    requests = num_rows(task.table)
    if requests == 0:
        return WindowNeed(task.index, task.start_s, task.end_s, 0, 0.0, 0), Runs()
    evaluator = Evaluator(task.scenario, task.table, task.objectives, task.cost_model)
    count = fewest_meeting(evaluator.meets, task.guess, task.options.max_replicas)
    summary = evaluator.verdict(count).summary
    observed = {o.name: o.observed_s(summary) for o in task.objectives}
    need = WindowNeed(task.index, task.start_s, task.end_s, requests,
                      requests / (task.end_s - task.start_s), count, observed)
    return need, evaluator.runs
