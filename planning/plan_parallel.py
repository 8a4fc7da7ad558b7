"""Plans of several layouts on a process pool, stage by stage.

A layout's plan is three stages (planning.plan): the count (with the knob search and the
evidence), then the sustainable rate and the per-window requirements, which start from the count
and not from each other. Run as whole plans, one per process, the slowest layout (static
batching, with its knob search) kept one core busy long after the other had finished; run as
separate tasks, the rate and window searches of every layout fill both cores while the slowest
count search runs. Each task asks its questions in one process, so the early stop
(planning.guard) works as in a serial plan, and each task's answer depends only on its inputs:
the plans are plan_capacity's, whatever order the tasks finish in.
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, wait

from batchsim.planning.evaluate import Runs
from batchsim.planning.plan import (assemble, count_stage, plan_stages, rate_stage,
                                    trace_span_s, window_requirement, window_tasks)


def plan_layouts_in_pool(pool, scenarios, table, objectives, options, knobs_for,
                         on_stage=None) -> list:
    """Each scenario's Plan, or the ValueError that says why it cannot be planned, in order.

    ``knobs_for(scenario)`` gives its knob candidates; ``on_stage()`` is called as each stage
    of each layout ends (all of a layout's stages at once when it cannot be planned)."""
    stage = on_stage or (lambda: None)
    spans = trace_span_s(table) > 0
    found, rates, needs, errors = {}, {}, {}, {}
    tasks = {}  # future -> (stage, layout index, window index)
    for index, scenario in enumerate(scenarios):
        future = pool.submit(count_stage, scenario, table, objectives, options,
                             knob_candidates=knobs_for(scenario))
        tasks[future] = ("count", index, None)
    pending = set(tasks)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in sorted(done, key=lambda f: tasks[f][1:2]):
            kind, index, part = tasks[future]
            try:
                result = future.result()
            except ValueError as error:
                if index not in errors:
                    errors[index] = error
                    for _ in range(plan_stages(table, options) if kind == "count" else 1):
                        stage()
                continue
            stage()
            if kind == "count":
                found[index] = result
                if not spans:
                    continue
                later = [(pool.submit(rate_stage, result, table, options), ("rate", index, None))]
                windows = window_tasks(result, table, options)
                needs[index] = [None] * len(windows)
                later += [(pool.submit(window_requirement, task), ("window", index, i))
                          for i, task in enumerate(windows)]
                for submitted, what in later:
                    tasks[submitted] = what
                    pending.add(submitted)
            elif kind == "rate":
                rates[index] = result
            else:
                needs[index][part] = result
    outcomes = []
    for index in range(len(scenarios)):
        if index in errors:
            outcomes.append(errors[index])
            continue
        rate, rate_runs = rates.get(index, (None, Runs()))
        outcomes.append(assemble(found[index], table, rate, rate_runs,
                                 needs.get(index, [])))
    return outcomes
