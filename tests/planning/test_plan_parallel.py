"""Layouts planned stage by stage on a pool give the plans a serial plan_capacity gives."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from batchsim.planning.knob_search import static_knob_candidates
from batchsim.planning.plan import PlanOptions, plan_capacity
from batchsim.planning.plan_parallel import plan_layouts_in_pool
from batchsim.planning.scenario import Scenario, with_overrides
from batchsim.planning.slo import parse_slo
from tests.planning.traces import poisson_trace

SLO = parse_slo("ttft_p99=2s,tpot_p99=100ms")


def test_stage_tasks_give_the_serial_plans_and_errors_in_layout_order():
    table = poisson_trace(120, 2.0, seed=4)
    options = PlanOptions(window_s=20.0)
    base = Scenario()
    layouts = [with_overrides(base, {"policy": p}) for p in ("static", "continuous", "chunked")]
    layouts.append(with_overrides(base, {"model": "llama-3-70b"}))  # no H200 holds it whole
    knobs = static_knob_candidates(SLO)

    def knobs_for(layout):
        return knobs if layout.serving.policy == "static" else ()

    stages = []
    # spawn: the tasks need nothing inherited by fork
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        outcomes = plan_layouts_in_pool(pool, layouts, table, SLO, options, knobs_for,
                                        lambda: stages.append(1))
    assert isinstance(outcomes[3], ValueError)
    for layout, plan in zip(layouts[:3], outcomes[:3]):
        serial = plan_capacity(layout, table, SLO, options, knob_candidates=knobs_for(layout))
        assert (plan.policy, plan.replicas, plan.knobs_searched) == (
            serial.policy, serial.replicas, serial.knobs_searched)
        assert plan.at_count.summary == serial.at_count.summary
        assert (plan.below and plan.below.summary) == (serial.below and serial.below.summary)
        assert plan.rate == serial.rate and plan.windows == serial.windows
        assert (plan.simulations, plan.stopped_early) == (serial.simulations,
                                                          serial.stopped_early)
    assert len(outcomes[0].windows) > 1
    assert len(stages) == 4 * (2 + len(outcomes[0].windows))  # every stage of every layout
