"""SLO terms parse to objectives; the early-stop bound is sound; the guard agrees with full runs."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchsim.planning.evaluate import Evaluator
from batchsim.planning.scenario import Scenario, run_scenario, with_overrides
from batchsim.planning.slo import Objective, meets, parse_slo, violations_needed
from tests.planning.traces import poisson_trace


def test_parse_accepts_metric_percentile_and_units():
    objectives = parse_slo("ttft_p99=2s,tpot_p99=100ms,e2e_p90=20s,p50_ttft=500ms")
    assert objectives == (Objective("ttft", 99, 2.0), Objective("tpot", 99, 0.1),
                          Objective("e2e", 90, 20.0), Objective("ttft", 50, 0.5))
    assert parse_slo("ttft=2s") == (Objective("ttft", 99, 2.0),)
    assert parse_slo("e2el_p99=30s")[0].metric == "e2e"


@pytest.mark.parametrize("text, message", [
    ("latency=3s", "bad SLO term"), ("ttft_p95=2s", "p95 not supported"),
    ("ttft_p99", "bad SLO term"), ("ttft=fast", "not a duration"), ("ttft=2", "needs a unit"),
    ("ttft=nan", "not a duration"), ("ttft=1e999s", "finite"),
    ("ttft=2s,ttft_p99=1s", "repeats ttft_p99"), ("", "empty"), ("ttft=-1s", "positive")])
def test_parse_rejects_bad_terms_naming_them(text, message):
    with pytest.raises(ValueError, match=message):
        parse_slo(text)


def test_goodput_reads_vllm_milliseconds_and_refuses_repeats():
    from batchsim.planning.slo import parse_goodput, scenario_slo
    assert parse_goodput(["ttft:2000", "tpot:100"]) == (Objective("ttft", 99, 2.0),
                                                        Objective("tpot", 99, 0.1))
    assert parse_goodput("e2el:500")[0] == Objective("e2e", 99, 0.5)
    slo = scenario_slo("ttft_p50=1s,ttft_p99=3s", "tpot:50")
    assert (slo.ttft_s, slo.tpot_s, slo.e2e_s) == (3.0, 0.05, None)
    for bad in (["ttft:2s"], ["ttft:1", "ttft:2"], ["itl:5"], ["ttft:-5"], []):
        with pytest.raises(ValueError):
            parse_goodput(bad)
    with pytest.raises(ValueError, match="give it once"):
        scenario_slo("ttft=2s", "ttft:2000")


def test_objective_reads_the_summary_percentile():
    summary = {"completed": 3, "p50_ttft_ms": 100.0, "p90_ttft_ms": 1500.0,
               "p99_ttft_ms": 2000.0}
    assert Objective("ttft", 99, 2.0).met_by(summary)  # at the limit counts as met
    assert not Objective("ttft", 90, 1.4).met_by(summary)
    assert not meets({**summary, "completed": 0}, [Objective("ttft", 99, 2.0)])


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 300), percentile=st.sampled_from([50, 90, 99]), data=st.data())
def test_enough_violations_always_push_the_percentile_over_the_limit(count, percentile, data):
    needed = violations_needed(count, percentile)
    if needed > count:
        return  # cannot be settled early with this few requests
    limit = 1.0
    low = data.draw(st.lists(st.floats(0, limit), min_size=count - needed, max_size=count - needed))
    high = data.draw(st.lists(st.floats(limit, 3.0, exclude_min=True), min_size=needed,
                              max_size=needed))
    assert np.percentile(np.array(low + high), percentile) > limit


def test_bound_never_decreases_with_more_requests():
    for percentile in (50, 90, 99):
        bounds = [violations_needed(n, percentile) for n in range(1, 3000)]
        assert all(a <= b for a, b in zip(bounds, bounds[1:]))
    # one percent of 20,000 requests plus the interpolation margin
    assert violations_needed(20000, 99) == 20000 - 19799 + 1


def test_early_stop_gives_the_full_runs_answer():
    objectives = parse_slo("ttft_p99=1s,tpot_p99=40ms")
    outcomes = set()
    for policy, replicas, rate in (("continuous", 1, 40.0), ("continuous", 2, 40.0),
                                   ("continuous", 4, 40.0), ("static", 3, 10.0),
                                   ("chunked", 2, 30.0)):
        table = poisson_trace(800, rate, seed=3)
        scenario = with_overrides(Scenario(profile="roofline"), {"policy": policy})
        verdict = Evaluator(scenario, table, objectives).verdict(replicas, full=False)
        full = run_scenario(with_overrides(scenario, {"replicas": replicas}), table).summary
        assert verdict.meets == meets(full, objectives)
        outcomes.add("stopped early" if verdict.stopped else "ran to the end")
    assert outcomes == {"stopped early", "ran to the end"}
