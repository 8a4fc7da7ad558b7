"""``batchsim replay``: simulate a trace through serving replicas and print the report.

Example: batchsim replay --trace conv.csv --policy chunked --max-num-batched-tokens 2048 --out run/
"""
from __future__ import annotations

import argparse
import json

from batchsim.cli.commands import HELP
from batchsim.cli.progress import add_quiet_flag, progress_bar
from batchsim.cli.report import format_report
from batchsim.simulator.summary import PERCENTILE_METRICS

SERVING_FLAGS = (
    ("--policy", str, "static | continuous | chunked | vllm (default continuous)"),
    ("--batch-size", int, "static batching: requests per batch (default 8)"),
    ("--max-wait-s", float, "static batching: wait this long for a full batch (default 0)"),
    ("--max-num-seqs", int, "sequences in flight per replica (default 256)"),
    ("--max-num-batched-tokens", int, "tokens per step (default 2048 chunked, else max-model-len)"),
    ("--block-size", int, "KV block size in tokens (default 16)"),
    ("--max-model-len", int, "longest prompt+output accepted (default: the model's)"),
    ("--gpu-memory-utilization", float, "fraction of GPU memory for weights+KV (default 0.9)"),
    ("--watermark", float, "fraction of KV blocks kept free at admission (default 0.01)"),
    ("--preemption-mode", str, "recompute | swap (default recompute)"),
    ("--replicas", int, "replicas (GPUs) behind the router (default 1)"),
    ("--router", str, "round-robin | least-outstanding (default round-robin)"),
    ("--kv-blocks", int, "KV blocks per replica, overriding the memory math"),
    ("--tensor-parallel-size", int, "GPUs per replica (tensor parallelism; alias --tp)"),
    ("--long-prefill-token-threshold", int, "vllm policy: most tokens a prefill gets per step "
                                            "(default 0: no cap)"),
)


def add_scenario_flags(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that runs scenarios."""
    parser.add_argument("--config", help="YAML scenario file; flags override it")
    parser.add_argument("--gpu", help="GPU: a catalog name (h200, h100, a100, b200, l40s, rtx4090, "
                        "rtxpro6000) or a datasheet YAML path (default h200)")
    parser.add_argument("--model", help="model: a catalog name or a Hugging Face config.json path "
                        "(default llama-3-8b)")
    parser.add_argument("--profile", help="profile name or directory, or 'roofline'")
    parser.add_argument("--slo", help="objectives with units, e.g. ttft_p99=2s,tpot_p99=100ms")
    parser.add_argument("--goodput", nargs="+", metavar="KEY:MS",
                        help="vLLM's goodput spelling in milliseconds, e.g. ttft:2000 tpot:100")
    for flag, kind, text in SERVING_FLAGS:
        aliases = ["--tp"] if flag == "--tensor-parallel-size" else []
        parser.add_argument(flag, *aliases, type=kind, help=text)
    parser.add_argument("--strict-range", action="store_true",
                        help="fail (exit 2) when any step goes beyond the profile's measured range")
    parser.add_argument("--step-time", choices=("mean", "sampled"), default=None,
                        help="price each step at its mean (default) or draw it from the profile's measured "
                             "spread, seeded by --seed")
    parser.add_argument("--allow-profile-mismatch", action="store_true", default=None,
                        help="run on a profile measured under another engine configuration (the report "
                             "names the settings that differ)")
    parser.add_argument("--enable-prefix-caching", action=argparse.BooleanOptionalAction,
                        default=None, help="cache full KV blocks by prefix and reuse them "
                        "(default: on for the vllm policy, off for the others)")


def check_strict_range(args, summary: dict, what: str) -> None:
    """Under ``--strict-range``, a run that left the measured range is an error (exit 2)."""
    from batchsim.simulator.measured_range import strict_range_error

    message = strict_range_error(summary, what) if getattr(args, "strict_range", False) else None
    if message:
        raise ValueError(message)


def scenario_from_args(args):
    """The scenario the flags (over an optional YAML file) describe.

    Settings of the YAML file that are not the scenario's (trace transforms, --out, planning
    options) fill the flags the command line did not give.
    """
    from batchsim.planning.scenario import Scenario, check_knobs_apply, with_overrides

    from_file: dict = {}
    if getattr(args, "config", None):
        from batchsim.planning.schema import apply_settings, given, load_settings

        from_file = given(load_settings(args.config))
        apply_settings(args, from_file)
    if isinstance(getattr(args, "goodput", None), list):
        args.goodput = " ".join(args.goodput)
    overrides = {name: getattr(args, name, None) for name in (
        "gpu", "model", "profile", "seed", "slo", "goodput", "trace")}
    overrides["trace_format"] = getattr(args, "format", None)
    for flag, _, _ in SERVING_FLAGS:
        name = flag.lstrip("-").replace("-", "_")
        overrides[name] = getattr(args, name)
    overrides["enable_prefix_caching"] = getattr(args, "enable_prefix_caching", None)
    overrides["step_time"] = getattr(args, "step_time", None)
    overrides["allow_profile_mismatch"] = getattr(args, "allow_profile_mismatch", None)
    scenario = with_overrides(Scenario(), overrides)
    check_knobs_apply(scenario, set(from_file) | set(getattr(args, "explicit", ())))
    return scenario


def load_table(args, scenario, frame: bool = True):
    """The trace the scenario names, or the bundled default, after the trace flags' transforms.

    Returns the canonical table (a DataFrame; with ``frame=False`` possibly numpy columns, see
    ``traces.columns``) and a one-line description for the report.
    """
    from batchsim.traces.cli_options import load_from_args

    args.trace, args.seed = scenario.trace, scenario.seed
    args.format = scenario.trace_format
    loaded = load_from_args(args, frame)
    notes = f" ({'; '.join(loaded.notes)})" if loaded.notes else ""
    if scenario.trace is None:
        return loaded.table, (f"bundled default: synthetic conversation trace with Azure 2023 "
                              f"conversation statistics (seed {scenario.seed}){notes}")
    return loaded.table, f"{loaded.source}{notes}"


def register(subparsers) -> None:
    """Add the replay subcommand."""
    from batchsim.traces.cli_options import add_trace_options

    parser = subparsers.add_parser(
        "replay", help=HELP["replay"],
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", help="trace file in any supported format (default: bundled)")
    add_trace_options(parser, model_flag="--trace-model")
    add_scenario_flags(parser)
    parser.add_argument("--out", help="directory for requests.csv, steps.csv, summary.json")
    add_result_flags(parser)
    add_quiet_flag(parser)
    parser.set_defaults(func=run)


def add_result_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of the result JSON, named and defined as in ``vllm bench serve``."""
    group = parser.add_argument_group("result JSON (a superset of vllm bench serve --save-result)")
    group.add_argument("--json", action="store_true", help="print the result as JSON")
    group.add_argument("--metric-percentiles", default="50,90,99",
                       help="percentiles written as p{N}_{metric}_ms keys (default 50,90,99)")
    group.add_argument("--percentile-metrics", default=",".join(PERCENTILE_METRICS),
                       help="metrics with mean/median/std/percentile keys: ttft, tpot, itl, "
                            "e2el, queue (default all)")
    group.add_argument("--date", help="the result's date, YYYYMMDD-HHMMSS (default: "
                                      "SOURCE_DATE_EPOCH, else 19700101-000000; never the clock)")
    group.add_argument("--save-detailed", action="store_true",
                       help="add per-request input_lens, output_lens, ttfts, errors")


def result_options(args) -> dict:
    """summarize's percentile options from the flags; ValueError names a bad one."""
    try:
        percentiles = tuple(float(p) for p in args.metric_percentiles.split(","))
    except ValueError:
        raise ValueError(f"--metric-percentiles '{args.metric_percentiles}': expected numbers "
                         f"such as 50,90,99") from None
    if not all(0 <= p <= 100 for p in percentiles):
        raise ValueError(f"--metric-percentiles '{args.metric_percentiles}': each must be 0..100")
    metrics = tuple(m.strip() for m in args.percentile_metrics.split(","))
    unknown = [m for m in metrics if m not in PERCENTILE_METRICS]
    if unknown:
        raise ValueError(f"--percentile-metrics: unknown metric '{unknown[0]}' "
                         f"(known: {', '.join(PERCENTILE_METRICS)})")
    return {"percentiles": percentiles, "percentile_metrics": metrics}


def run(args) -> int:
    """Run the replay and print the report."""
    from batchsim.planning.costs import describe_cost_model
    from batchsim.planning.result_header import (check_date, default_date, detailed_lists,
                                                 result_header)
    from batchsim.planning.scenario import run_scenario
    from batchsim.traces.columns import num_rows

    options = result_options(args)
    date = check_date(args.date) if args.date else default_date()
    scenario = scenario_from_args(args)
    if args.out is not None:
        from batchsim.atomic import check_output_directory

        check_output_directory(args.out)  # before the simulation, not after it
    table, trace_text = load_table(args, scenario, frame=False)
    sink = None
    if args.out:
        from batchsim.simulator.export import OutputSink  # pandas: only when writing tables
        sink = OutputSink(args.out)
    try:
        with progress_bar(args, num_rows(table), "replay", "req") as bar:
            outcome = run_scenario(scenario, table, limits=args.limits, sink=sink,
                                   on_routed=lambda routed: bar.update(routed - bar.n), **options)
            bar.update(num_rows(table) - bar.n)
        check_strict_range(args, outcome.summary, "the replay")
        result = {**result_header(table, scenario.model, date), **outcome.summary,
                  "trace": trace_text, "cost_model": describe_cost_model(outcome.cost_model)}
        if args.save_detailed:
            result.update(detailed_lists(outcome.result.recorder.request_table()))
    except BaseException:
        if sink is not None:
            sink.abandon()
        raise
    if sink is not None:
        sink.finish(result)
    if args.json:
        from batchsim.atomic import dumps_json

        print(dumps_json(result, indent=2, sort_keys=True))
        return 0
    serving = outcome.serving
    knobs = (f"batch_size={serving.batch_size} max_wait_s={serving.max_wait_s:g}"
             if serving.policy == "static" else
             f"max_num_seqs={serving.max_num_seqs} "
             f"max_num_batched_tokens={serving.max_num_batched_tokens}")
    context = [
        ("Trace", f"{num_rows(table):,} requests; {trace_text}"),
        ("Policy", f"{serving.policy} ({knobs}, block_size={serving.block_size})"),
        ("Cost model", describe_cost_model(outcome.cost_model)),
        ("Replicas", f"{serving.replicas} x {serving.tensor_parallel_size} {scenario.gpu} "
                     f"({serving.router} routing)"),
        ("Range", outcome.summary["extrapolation"]["description"]),
        ("Step times", outcome.summary["step_time"]),
    ]
    context += [("PROFILE MISMATCH", m) for m in outcome.summary["profile_mismatch"]]
    print(format_report(outcome.summary, context))
    if args.out:
        print(f"wrote {args.out}/requests.csv, steps.csv, summary.json")
    return 0
