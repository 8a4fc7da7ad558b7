"""The plan's count meets the SLO and one fewer does not, re-simulated independently."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from batchsim.planning.plan import PlanOptions, plan_capacity
from batchsim.planning.pricing import autoscaling, fleet_cost
from batchsim.planning.scenario import Scenario, run_scenario, with_overrides
from batchsim.planning.slo import meets, parse_slo
from batchsim.planning.windows import split_windows
from batchsim.simulator.step import StepShape
from tests.planning.traces import poisson_trace, two_phase_trace

SLO = parse_slo("ttft_p99=1s,tpot_p99=20ms")
BASE = Scenario(profile="roofline")


def replayed(scenario, table, replicas, scale=1.0):
    """An ordinary shared replay (run_scenario), independent of the planner's split replay."""
    table = table.copy()
    table["arrival_s"] = table["arrival_s"] / scale
    return run_scenario(with_overrides(scenario, {"replicas": replicas}), table).summary


@pytest.fixture(scope="module")
def plan_and_trace():
    table = poisson_trace(1500, 40.0, seed=2)
    return plan_capacity(BASE, table, SLO, PlanOptions(window_s=None)), table


def test_plan_count_meets_and_one_fewer_fails(plan_and_trace):
    plan, table = plan_and_trace
    assert plan.replicas >= 2
    assert meets(replayed(BASE, table, plan.replicas), SLO)
    assert not meets(replayed(BASE, table, plan.replicas - 1), SLO)
    assert plan.at_count.meets and not plan.below.meets
    assert plan.below.summary["p99_tpot_ms"] > 20.0 or plan.below.summary["p99_ttft_ms"] > 1000.0


def test_plan_with_the_bundled_profile_is_verified_by_replay():
    # the planner's split replays and early-stopping guard must agree with plain replays
    table = poisson_trace(900, 40.0, seed=8)
    plan = plan_capacity(Scenario(), table, SLO, PlanOptions(window_s=None))
    assert type(plan.cost_model).__name__ == "ProfileCostModel"
    assert meets(replayed(Scenario(), table, plan.replicas), SLO)
    assert not meets(replayed(Scenario(), table, plan.replicas - 1), SLO)
    replay = replayed(Scenario(), table, plan.replicas)
    assert plan.at_count.summary["p99_tpot_ms"] == pytest.approx(replay["p99_tpot_ms"], rel=1e-9)


def test_sustainable_rate_bracket_is_verified_by_replay(plan_and_trace):
    plan, table = plan_and_trace
    rate = plan.rate
    assert rate.meeting_scale >= 1.0 and rate.failing_scale / rate.meeting_scale <= 1.03
    assert meets(replayed(BASE, table, plan.replicas, rate.meeting_scale), SLO)
    assert not meets(replayed(BASE, table, plan.replicas, rate.failing_scale), SLO)
    span_s = table["arrival_s"].max() - table["arrival_s"].min()
    assert rate.meeting_rate_per_replica == pytest.approx(
        rate.meeting_scale * len(table) / span_s / plan.replicas)


def test_windows_show_the_peak_and_each_count_is_verified():
    table = two_phase_trace(phase_s=90.0)
    slo = parse_slo("ttft_p99=1s,tpot_p99=12ms")
    plan = plan_capacity(BASE, table, slo, PlanOptions(window_s=90.0))
    windows = split_windows(table, 90.0)
    quiet, busy = plan.windows
    assert (quiet.requests, busy.requests) == tuple(len(w.table) for w in windows)
    assert busy.replicas > quiet.replicas >= 1
    for need, window in zip(plan.windows, windows):
        assert meets(replayed(BASE, window.table, need.replicas), slo)
        if need.replicas > 1:
            assert not meets(replayed(BASE, window.table, need.replicas - 1), slo)
    hours = 90.0 / 3600
    scaling = autoscaling(plan, 90.0)
    assert scaling.autoscaled_gpu_hours == pytest.approx((quiet.replicas + busy.replicas) * hours)
    assert scaling.peak_gpu_hours == pytest.approx(2 * busy.replicas * hours)
    assert scaling.fixed_gpu_hours == pytest.approx(2 * plan.replicas * hours)


def test_pool_gives_the_same_plan():
    table = poisson_trace(900, 40.0, seed=4)
    options = PlanOptions(window_s=8.0)
    serial = plan_capacity(BASE, table, SLO, options)
    # spawn (the default on macOS and Windows) proves the tasks need nothing inherited by fork
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        parallel = plan_capacity(BASE, table, SLO, options, pool=pool, workers=2)
    assert parallel.replicas == serial.replicas
    assert parallel.at_count.summary == serial.at_count.summary
    assert parallel.below.summary == serial.below.summary
    assert parallel.rate == serial.rate
    assert len(serial.windows) == 3 and parallel.windows == serial.windows


def test_more_replicas_never_worsen_p99_with_round_robin():
    table = poisson_trace(1500, 40.0, seed=5)
    run = run_scenario(BASE, table.iloc[:1])
    # tolerance: one decode step of one sequence, the granularity at which an arrival can
    # meet a busy replica; at light load P99 TTFT is a prefill plus at most such a wait
    step_s = run.cost_model.step_time_s(StepShape((), 1, 1500, 1500))
    p99 = [replayed(BASE, table, n) for n in range(1, 7)]
    for key in ("p99_ttft_ms", "p99_tpot_ms", "p99_e2el_ms"):
        values = [s[key] for s in p99]
        assert all(b <= a + step_s * 1000 for a, b in zip(values, values[1:])), (key, values)
    assert p99[0]["p99_ttft_ms"] > 10 * p99[-1]["p99_ttft_ms"]  # the range covers overload


def test_static_needs_more_gpus_than_continuous_and_tp_multiplies():
    table = poisson_trace(400, 8.0, seed=6, output=(20, 300))
    slo = parse_slo("ttft_p99=2s")
    plans = {p: plan_capacity(with_overrides(BASE, {"policy": p}), table, slo,
                              PlanOptions(window_s=None)) for p in ("static", "continuous")}
    assert plans["static"].gpus > plans["continuous"].gpus
    tp = plan_capacity(with_overrides(BASE, {"policy": "static", "tensor_parallel_size": 2}),
                       table, slo, PlanOptions(window_s=None))
    assert tp.gpus == 2 * tp.replicas and tp.gpus_per_replica == 2


def test_least_outstanding_routing_plans_with_shared_replays():
    table = poisson_trace(900, 40.0, seed=4)
    scenario = with_overrides(BASE, {"router": "least-outstanding"})
    plan = plan_capacity(scenario, table, SLO, PlanOptions(window_s=None))
    assert meets(replayed(scenario, table, plan.replicas), SLO)
    assert not meets(replayed(scenario, table, plan.replicas - 1), SLO)


def test_cost_arithmetic():
    table = poisson_trace(900, 40.0, seed=4)
    plan = plan_capacity(BASE, table, SLO, PlanOptions(window_s=None))
    summary = plan.at_count.summary
    cost = fleet_cost(plan, 2.5)
    assert cost.per_hour == 2.5 * plan.gpus
    assert cost.per_million_output_tokens == pytest.approx(
        2.5 * plan.gpus * summary["duration"] / 3600 / summary["total_output_tokens"] * 1e6)
    assert fleet_cost(plan, None).per_hour is None
    with pytest.raises(ValueError, match="positive"):
        fleet_cost(plan, 0.0)


def test_unreachable_objective_is_reported():
    table = poisson_trace(50, 2.0, seed=1)
    with pytest.raises(ValueError, match=r"no replica count up to 8 meets tpot_p99<=1ms "
                                         r"\(at 8 replicas: tpot_p99 [\d.]+ ms"):
        plan_capacity(BASE, table, parse_slo("tpot_p99=1ms"), PlanOptions(window_s=None,
                                                                            max_replicas=8))


def test_plan_evidence_says_how_far_steps_went_beyond_the_measured_range():
    # long prompts decode with contexts beyond the bundled profile's 4,097: the evidence and
    # the sustainable rate carry it, whether the steps were priced here or in workers
    table = poisson_trace(400, 40.0, seed=4, prompt=(100, 6000))
    options = PlanOptions(window_s=None)
    serial = plan_capacity(Scenario(), table, SLO, options)
    with ProcessPoolExecutor(2) as pool:
        parallel = plan_capacity(Scenario(), table, SLO, options, pool=pool, workers=2)
    entry = serial.at_count.summary["extrapolation"]
    assert entry["status"] == "extrapolated" and entry["largest_ratio"]["context per decode"] > 1
    assert parallel.at_count.summary["extrapolation"] == entry
    assert serial.rate.extrapolation["status"] == "extrapolated"
    roofline = plan_capacity(BASE, table, SLO, options)
    assert roofline.at_count.summary["extrapolation"]["status"] == "unprofiled"


def test_static_knob_search_keeps_the_candidate_needing_fewest_replicas():
    from batchsim.planning.knob_search import static_knob_candidates

    table = poisson_trace(400, 20.0, seed=4)
    scenario = with_overrides(BASE, {"policy": "static"})
    candidates = static_knob_candidates(parse_slo("ttft_p99=2s"), max_wait_s=0.0)
    assert candidates == [{"batch_size": 8, "max_wait_s": 0.0}, {"batch_size": 32, "max_wait_s": 0.0}]
    options = PlanOptions(window_s=None)
    plan = plan_capacity(scenario, table, parse_slo("ttft_p99=2s"), options,
                         knob_candidates=candidates)
    singles = [plan_capacity(with_overrides(scenario, c), table, parse_slo("ttft_p99=2s"),
                             options).replicas for c in candidates]
    assert plan.knobs_searched[0].replicas == singles[0]
    for result, single in zip(plan.knobs_searched[1:], singles[1:]):  # exact, or a true bound
        assert result.replicas == single or (result.replicas is None and
                                             single >= result.at_least >= min(singles))
    assert plan.replicas == min(singles)
    assert plan.serving.batch_size == candidates[singles.index(min(singles))]["batch_size"]


def test_static_waits_are_fractions_of_the_ttft_limit_unless_given():
    from batchsim.planning.knob_search import static_knob_candidates

    waits = {c["max_wait_s"] for c in static_knob_candidates(parse_slo("ttft_p99=2s,e2e_p99=9s"))}
    assert waits == {0.0, 0.5}
    assert static_knob_candidates(parse_slo("tpot_p99=50ms"), batch_size=4) == [
        {"batch_size": 4, "max_wait_s": 0.0}]


@pytest.mark.parametrize("profile, rate_per_s, count, slo", [
    (None, 2.0, 200, "ttft_p99=2s"),  # counts 3, 4, 3, 4: later candidates cannot win
    ("roofline", 5.0, 300, "ttft_p99=4s,tpot_p99=40ms"),  # 3, 3, 2, 2: the third wins
])
def test_knob_search_answer_equals_a_scan_of_every_count(profile, rate_per_s, count, slo):
    # a scan of 1, 2, 3, ... per candidate with ordinary replays (no split, no early stop, no
    # guess, no pruning) must give the plan's count and knobs; the plan's other entries are
    # the scan's counts or true lower bounds of them
    from batchsim.planning.knob_search import static_knob_candidates

    table = poisson_trace(count, rate_per_s, seed=4)
    scenario = with_overrides(Scenario(profile=profile), {"policy": "static"})
    objectives = parse_slo(slo)
    candidates = static_knob_candidates(objectives)
    plan = plan_capacity(scenario, table, objectives, PlanOptions(window_s=None),
                         knob_candidates=candidates)
    scanned = [next(n for n in range(1, 64)
                    if meets(replayed(with_overrides(scenario, c), table, n), objectives))
               for c in candidates]
    assert len(set(scanned)) > 1
    assert plan.replicas == min(scanned)
    best = candidates[scanned.index(min(scanned))]
    assert (plan.serving.batch_size, plan.serving.max_wait_s) == (best["batch_size"], best["max_wait_s"])
    for result, n in zip(plan.knobs_searched, scanned):
        assert result.replicas == n if result.replicas is not None else result.at_least <= n
    assert plan.knobs_searched[scanned.index(min(scanned))].replicas == min(scanned)


def test_the_evidence_below_the_count_is_simulated_once(monkeypatch):
    from batchsim.planning.evaluate import Evaluator

    runs, stopped = [], []
    run = Evaluator._run

    def counted(self, replicas, scale, guarded):
        runs.append((replicas, scale))
        verdict = run(self, replicas, scale, guarded)
        stopped.append(bool(verdict.stopped))
        return verdict

    monkeypatch.setattr(Evaluator, "_run", counted)
    table = poisson_trace(600, 50.0, seed=2)
    plan = plan_capacity(BASE, table, SLO, PlanOptions(window_s=None))
    # counts 1, 2 fail, 4 meets; 3, asked once 4 is known to meet, fails: that run is the
    # evidence below, so it goes to the end the first time instead of stopping early and
    # being run again
    assert plan.replicas == 4 and runs[:4] == [(1, 1.0), (2, 1.0), (4, 1.0), (3, 1.0)]
    assert plan.below.summary is not None and not plan.below.meets
    assert len(runs) == len(set(runs)) == plan.simulations
    # the report's count of simulations stopped early is the number that were
    assert plan.stopped_early == sum(stopped) and 0 < plan.stopped_early < plan.simulations
    assert not stopped[3]  # the evidence below ran to the end


def test_numpy_columns_plan_as_the_dataframe_does():
    # plan runs the bundled trace as numpy columns (no pandas), files as DataFrames: the
    # windows, shares, scaled arrivals and so the whole plan are the same in both forms
    frame = two_phase_trace(phase_s=90.0)
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    slo, options = parse_slo("ttft_p99=1s,tpot_p99=12ms"), PlanOptions(window_s=45.0)
    from_frame = plan_capacity(BASE, frame, slo, options)
    from_columns = plan_capacity(BASE, columns, slo, options)
    assert from_columns.replicas == from_frame.replicas >= 2
    assert from_columns.at_count.summary == from_frame.at_count.summary
    assert from_columns.below.summary == from_frame.below.summary
    assert from_columns.rate == from_frame.rate
    assert from_columns.windows == from_frame.windows and len(from_frame.windows) == 4
    assert from_columns.trace_requests == from_frame.trace_requests == len(frame)
