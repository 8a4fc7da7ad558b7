"""Does a deployment meet its objectives on a trace? One simulation per question, remembered.

A question is a replica count and a rate scale (arrival times divided by it); its summary is
run_scenario's without the inter-token-latency statistics (see ``_run``). Round-robin
deployments are replayed one replica at a time (planning.split), spread over worker processes
when a pool is given; other routers need one shared replay. A question asked only for its
answer stops early once the objectives must fail (planning.guard); the planner asks again for
the full summary where it shows the evidence.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from batchsim.planning.costs import build_cost_model
from batchsim.planning.guard import ObjectivesFailed, ViolationTally
from batchsim.planning.scenario import Scenario, extrapolation_entry, prepare
from batchsim.planning.slo import meets
from batchsim.planning.split import compact, merge_results, round_robin_shares
from batchsim.simulator.metrics import Recorder
from batchsim.simulator.simulation import simulate
from batchsim.simulator.summary import Slo, summarize
from batchsim.simulator.workload import table_prefix_block_tokens, trace_from_table
from batchsim.traces.columns import num_rows, with_arrivals


@dataclass(frozen=True)
class Verdict:
    """The answer to one question, with the summary when the run went to the end."""

    replicas: int
    scale: float
    meets: bool
    summary: dict | None  # None when the run stopped early
    stopped: str = ""  # why it stopped early


@dataclass(frozen=True)
class Runs:
    """Simulations run for some questions, and how many of them stopped early (decided failing
    once their objectives could no longer be met, planning.guard)."""

    simulations: int = 0
    stopped_early: int = 0

    def __add__(self, other: "Runs") -> "Runs":
        return Runs(self.simulations + other.simulations,
                    self.stopped_early + other.stopped_early)


@dataclass(frozen=True)
class ShareJob:
    """Some replicas' shares of a round-robin replay, for one process to simulate in turn."""

    scenario: Scenario
    cost_model: object
    shares: tuple  # canonical tables, one per replica
    guard: tuple | None = None  # (objectives, requests, multi-token requests) of the question


def guarded_simulate(trace, setup, replicas: int, router: str, tally: ViolationTally | None):
    """simulate(), with ``tally`` (if any) following the run's requests: raises
    ObjectivesFailed as soon as the objectives must fail."""
    if tally is None:
        return simulate(trace, setup, replicas, router)
    recorder = Recorder(trace)  # the recorder simulate() would build, with the tally listening
    tally.follow(recorder)
    return simulate(trace, setup, replicas, router, recorder=recorder)


def run_share_job(job: ShareJob):
    """Compact results of the job's replicas, or why the question stopped early."""
    block_tokens = table_prefix_block_tokens(job.shares[0]) if job.shares else None
    prepared = prepare(job.scenario, job.cost_model, block_tokens)
    tally = ViolationTally(*job.guard) if job.guard is not None else None
    try:
        outcome = [compact(guarded_simulate(trace_from_table(share), prepared.setup, 1,
                                            "round-robin", tally), keep_itl=False)
                   for share in job.shares]
    except ObjectivesFailed as failure:
        outcome = str(failure)
    return outcome


@dataclass(frozen=True)
class QuestionJob:
    """One whole question for one worker process (its replicas replayed in turn there)."""

    scenario: Scenario
    cost_model: object
    table: object
    objectives: tuple
    replicas: int
    scale: float


def answer_question(job: QuestionJob) -> Verdict:
    """The verdict of one question, stopping early when it can."""
    evaluator = Evaluator(job.scenario, job.table, job.objectives, job.cost_model)
    return evaluator.verdict(job.replicas, job.scale, full=False)


class Evaluator:
    """Answers questions about one scenario, objectives and trace."""

    def __init__(self, scenario: Scenario, table, objectives, cost_model=None, pool=None,
                 workers: int = 1) -> None:
        self.scenario = scenario
        if cost_model is None:
            cost_model = build_cost_model(scenario.gpu, scenario.model, scenario.profile,
                                          scenario.serving.tensor_parallel_size)
        self.prepared = prepare(scenario, cost_model, table_prefix_block_tokens(table))
        self.table = table
        self.objectives = tuple(objectives)
        self.requests = num_rows(table)
        self.multi_token_requests = int((np.asarray(table["output_tokens"]) > 1).sum())
        limits = {o.metric: o.limit_s for o in self.objectives if o.percentile == 99}
        self.goodput_slo = Slo(limits.get("ttft"), limits.get("tpot"), limits.get("e2e"))
        self.pool, self.workers = pool, max(1, workers)
        self.simulations = 0
        self.stopped_early = 0  # of the simulations, those decided failing before their end
        self._cache: dict[tuple[int, float], Verdict] = {}

    @property
    def runs(self) -> Runs:
        """The simulations this evaluator ran."""
        return Runs(self.simulations, self.stopped_early)

    def meets(self, replicas: int, scale: float = 1.0) -> bool:
        """Answer only: stops the simulation early when it can."""
        return self.verdict(replicas, scale, full=False).meets

    def meets_in_full(self, replicas: int, scale: float = 1.0) -> bool:
        """Answer, from a run that goes to the end and keeps its summary (for a question whose
        summary the plan will show)."""
        return self.verdict(replicas, scale, full=True).meets

    def meets_many(self, questions: list[tuple[int, float]]):
        """Answers to several (replicas, scale) questions, in order: with a pool, asked at
        once (one worker process each); without one, each asked only when its answer is read
        (a search that stops reading at the first failure never runs the rest)."""
        todo = [q for q in dict.fromkeys(questions) if q not in self._cache]
        if self.pool is not None and len(todo) > 1:
            jobs = [QuestionJob(self.scenario, self.prepared.cost_model, self.table,
                                self.objectives, replicas, scale) for replicas, scale in todo]
            for question, verdict in zip(todo, self.pool.map(answer_question, jobs)):
                self._cache[question] = verdict
                self.stopped_early += bool(verdict.stopped)
            self.simulations += len(todo)
        return (self.meets(replicas, scale) for replicas, scale in questions)

    def remember(self, verdict: Verdict) -> None:
        """Take a verdict another evaluator of the same scenario, trace and objectives reached
        (it is not run again, nor counted as a simulation here)."""
        self._cache[(verdict.replicas, verdict.scale)] = verdict

    def verdict(self, replicas: int, scale: float = 1.0, full: bool = True) -> Verdict:
        """The verdict; with ``full`` the run goes to the end and the summary is kept."""
        key = (replicas, scale)
        cached = self._cache.get(key)
        if cached is not None and (cached.summary is not None or not full):
            return cached
        verdict = self._run(replicas, scale, guarded=not full)
        self._cache[key] = verdict
        return verdict

    def _run(self, replicas: int, scale: float, guarded: bool) -> Verdict:
        table = self.table
        if scale != 1.0:
            table = with_arrivals(table, table["arrival_s"] / scale)
        guard = (self.objectives, self.requests, self.multi_token_requests) if guarded else None
        self.simulations += 1
        if self.prepared.serving.router == "round-robin":
            outcome = self._round_robin(table, replicas, guard)
        else:
            outcome = self._shared(table, replicas, guard)
        if isinstance(outcome, str):
            self.stopped_early += 1
            return Verdict(replicas, scale, False, None, outcome)
        # Inter-token gaps number one per decode step (millions on an hour-long trace) and are
        # no objective here: plan summaries leave the ITL statistics out rather than pay for them
        outcome.recorder.drop_itl()
        summary = {k: v for k, v in summarize(outcome, self.goodput_slo).items()
                   if "_itl_" not in k}
        serving = self.prepared.serving
        summary.update(policy=serving.policy, replicas=replicas,
                       tensor_parallel_size=serving.tensor_parallel_size,
                       gpus=replicas * serving.tensor_parallel_size, rate_scale=scale,
                       extrapolation=extrapolation_entry(self.prepared.cost_model, outcome))
        return Verdict(replicas, scale, meets(summary, self.objectives), summary)

    def _round_robin(self, table, replicas: int, guard):
        shares = round_robin_shares(table, replicas)
        groups = min(self.workers, replicas) if self.pool is not None else 1
        jobs = [ShareJob(self.scenario, self.prepared.cost_model, tuple(shares[g::groups]), guard)
                for g in range(groups)]
        if groups > 1:
            outcomes = list(self.pool.map(run_share_job, jobs))
        else:
            outcomes = [run_share_job(jobs[0])]
        stopped = [o for o in outcomes if isinstance(o, str)]
        if stopped:
            return stopped[0]
        parts = [None] * replicas
        for g, outcome in enumerate(outcomes):
            parts[g::groups] = outcome
        return merge_results(parts)

    def _shared(self, table, replicas: int, guard):
        tally = ViolationTally(*guard) if guard is not None else None
        try:
            return guarded_simulate(trace_from_table(table), self.prepared.setup, replicas,
                                    self.prepared.serving.router, tally)
        except ObjectivesFailed as failure:
            return str(failure)
