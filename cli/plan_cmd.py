"""``batchsim plan``: the fewest replicas (GPUs) that meet an SLO over a whole trace.

--policy takes static, continuous, chunked, vllm or all (compare the first three); with prefix
caching on (the vllm policy's default) each layout is planned again without it and the GPUs
it saves are printed. The SLO takes
ttft, tpot and e2e at p50, p90 or p99 (p99 when omitted), in s or ms. Static batching's knobs
are searched (batch_size 8 and 32, max_wait_s 0 and a quarter of the TTFT limit) unless
--batch-size or --max-wait-s fixes them; the report lists each combination's count.

Examples:
  batchsim plan --slo ttft_p99=2s,tpot_p99=100ms
  batchsim plan --trace conv.csv --slo ttft_p99=2s,tpot_p99=100ms --policy all \\
      --gpu h200 --gpu-cost-per-hour 3.50
  batchsim plan --trace conv.csv --slo ttft_p99=1s --model llama-3-70b --tp 4 --window-s 900
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from batchsim.cli.commands import HELP
from batchsim.cli.progress import add_quiet_flag, progress_bar
from batchsim.cli.replay import add_scenario_flags, check_strict_range, load_table, scenario_from_args

POLICIES = ("static", "continuous", "chunked")  # what --policy all compares


def register(subparsers) -> None:
    """Add the plan subcommand."""
    from batchsim.traces.cli_options import add_trace_options

    parser = subparsers.add_parser(
        "plan", help=HELP["plan"],
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", help="trace file in any supported format (default: bundled)")
    add_trace_options(parser, model_flag="--trace-model")
    add_scenario_flags(parser)
    group = parser.add_argument_group("planning")
    group.add_argument("--gpus-per-replica", type=int, dest="tensor_parallel_size", metavar="N",
                       help="GPUs per replica (same as --tp)")
    group.add_argument("--tp-options", metavar="T1,T2,...",
                       help="compare layouts: plan each tensor-parallel degree (e.g. 1,2,4,8) and "
                            "pick the fewest GPUs; degrees that cannot hold the model are skipped")
    group.add_argument("--gpu-cost-per-hour", type=float, metavar="PRICE",
                       help="price of one GPU-hour; without it no money figures are shown")
    group.add_argument("--window-s", type=float, default=600.0, metavar="SECONDS",
                       help="per-window requirement window in seconds (default 600; 0: off)")
    group.add_argument("--rate-tolerance", type=float, default=0.03,
                       help="relative width of the sustainable-rate bracket (default 0.03)")
    group.add_argument("--max-replicas", type=int, default=1024,
                       help="give up above this many replicas (default 1024)")
    group.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="processes replaying replicas in parallel (default: all cores)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    add_quiet_flag(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    """Plan each requested policy and print the report (or JSON)."""
    from batchsim.cli.plan_report import format_comparison, format_plan, plan_record
    from batchsim.planning.knob_search import static_knob_candidates
    from batchsim.planning.plan import PlanOptions, plan_stages
    from batchsim.planning.slo import parse_slo
    from batchsim.traces.columns import num_rows

    if not args.slo:
        raise ValueError("plan needs --slo, e.g. --slo ttft_p99=2s,tpot_p99=100ms")
    if args.replicas is not None:
        raise ValueError("plan finds the replica count itself; drop --replicas")
    objectives = parse_slo(args.slo)
    policies = POLICIES if args.policy == "all" else (args.policy,)
    if args.policy == "all":
        args.policy = None
    scenario = scenario_from_args(args)
    # numpy columns for the bundled trace (no pandas to import: start-up), a DataFrame for a file
    table, trace_text = load_table(args, scenario, frame=False)
    options = PlanOptions(args.window_s or None, args.rate_tolerance, args.max_replicas,
                          limits=args.limits)
    degrees = _degrees(args.tp_options) or (scenario.serving.tensor_parallel_size,)
    started = time.perf_counter()
    static_knobs = static_knob_candidates(objectives, args.batch_size, args.max_wait_s)
    layouts = [(p, t) for p in policies for t in degrees]
    stages = plan_stages(table, options)
    with progress_bar(args, len(layouts) * stages, "plan", "stage") as bar:
        plans, skipped = _plan_layouts(scenario, layouts, table, objectives, options,
                                       args.workers, static_knobs, (bar, stages))
    uncached = _plans_without_prefix_caching(scenario, plans, table, objectives, options,
                                             args.workers)
    elapsed_s = time.perf_counter() - started
    records = [plan_record(p, args.gpu_cost_per_hour, options.window_s) for p in plans]
    for record, plan in zip(records, plans):
        for cached, without in uncached:
            if cached is plan:
                record["gpus_without_prefix_caching"] = without.gpus
    for plan in plans:
        check_strict_range(args, plan.at_count.summary, f"the {plan.policy} plan's evidence")
        if plan.rate is not None:
            check_strict_range(args, {"extrapolation": plan.rate.extrapolation},
                               f"the {plan.policy} plan's sustainable rate")
    if args.json:
        print(json.dumps(records if len(records) > 1 else records[0], indent=2, sort_keys=True))
        return 0
    context = {"trace": f"{num_rows(table):,} requests; {trace_text}", "gpu": scenario.gpu,
               "price": args.gpu_cost_per_hour, "window_s": options.window_s}
    for plan in plans:
        print(format_plan(plan, context))
    if len(plans) > 1 or skipped:
        print(format_comparison(plans, args.gpu_cost_per_hour, skipped))
    for plan, without in uncached:
        print(f"prefix caching ({plan.policy}, TP {plan.gpus_per_replica}): {plan.gpus} GPU(s) "
              f"with it, {without.gpus} without: saves {without.gpus - plan.gpus}")
    print(f"planned in {elapsed_s:.1f} s ({sum(p.simulations for p in plans)} simulations, "
          f"{max(1, args.workers)} worker processes)", file=sys.stderr)
    return 0


def _plans_without_prefix_caching(scenario, plans, table, objectives, options, workers) -> list:
    """(plan, the same layout planned without the cache) for each plan that caches prefixes."""
    from batchsim.planning.scenario import with_overrides

    cached = [p for p in plans
              if with_overrides(scenario, {"policy": p.policy}).serving.prefix_caching_on]
    if not cached:
        return []
    off = with_overrides(scenario, {"enable_prefix_caching": False})
    layouts = [(p.policy, p.gpus_per_replica) for p in cached]
    without, _ = _plan_layouts(off, layouts, table, objectives, options, workers)
    return list(zip(cached, without))


def _degrees(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        degrees = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--tp-options '{text}': expected degrees like 1,2,4,8") from None
    if any(d < 1 for d in degrees):
        raise ValueError(f"--tp-options '{text}': degrees must be at least 1")
    return degrees


def _plan_layouts(scenario, layouts, table, objectives, options, workers: int, static_knobs=(),
                  progress=(None, 0)):
    """Plans for each (policy, TP degree); layouts that cannot hold the model are skipped.
    Static layouts search ``static_knobs`` (knob overrides) for the fewest GPUs. ``progress``
    is (bar, stages per layout): stages count as they end, or as whole layouts end in workers.

    With at least as many layouts as workers, the workers take the layouts' stages (count,
    rate, each window) as separate tasks (planning.plan_parallel); otherwise they share each
    plan's simulations. Both give the same plans.
    """
    from concurrent.futures import ProcessPoolExecutor

    from batchsim.planning.plan import plan_capacity
    from batchsim.planning.plan_parallel import plan_layouts_in_pool
    from batchsim.planning.scenario import with_overrides
    from batchsim.planning.workers import ignore_sigint

    bar, stages = progress
    workers = max(1, workers)
    scenarios = [with_overrides(scenario, {"policy": policy, "tensor_parallel_size": degree})
                 for policy, degree in layouts]
    # workers leave Ctrl-C to this process, which exits 130 without their tracebacks
    pool = ProcessPoolExecutor(workers, initializer=ignore_sigint) if workers > 1 else None
    by_stage = pool is not None and len(layouts) >= workers
    outcomes = []
    try:
        if by_stage:
            outcomes = plan_layouts_in_pool(
                pool, scenarios, table, objectives, options,
                lambda layout: _knobs_for(layout, static_knobs),
                (lambda: bar.update(1)) if bar is not None else None)
        else:
            on_stage = (lambda: bar.update(1)) if bar is not None else None
            for layout in scenarios:
                start = bar.n if bar is not None else 0
                outcomes.append(_outcome(lambda: plan_capacity(
                    layout, table, objectives, options, pool=pool, workers=workers,
                    knob_candidates=_knobs_for(layout, static_knobs), on_stage=on_stage)))
                if bar is not None:  # a skipped layout ends before its stages do
                    bar.update(start + stages - bar.n)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    plans, skipped = [], []
    for layout, (policy, degree), outcome in zip(scenarios, layouts, outcomes):
        if isinstance(outcome, ValueError):
            if len(layouts) == 1:
                raise outcome
            skipped.append((layout.serving.policy, degree, str(outcome)))
        else:
            plans.append(outcome)
    if not plans:
        raise ValueError(f"no layout can serve this model: {skipped[0][2]}")
    return plans, skipped


def _knobs_for(layout, static_knobs):
    return static_knobs if layout.serving.policy == "static" else ()


def _outcome(call):
    """The plan, or the ValueError that says why the layout cannot be planned."""
    try:
        return call()
    except ValueError as error:
        return error
