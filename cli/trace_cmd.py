"""``batchsim trace``: describe, convert and synthesize traces (thin layer over traces/).

Trace readers, statistics and writers use pandas; they are imported by the subcommand that runs,
so that registering this command (every ``batchsim`` start) imports neither.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict

from batchsim.cli.commands import HELP
from batchsim.traces.cli_options import add_trace_options, load_from_args
from batchsim.traces.errors import TraceError

EXAMPLES = """examples:
  batchsim trace stats AzureLLMInferenceTrace_conv.csv
  batchsim trace convert conversation_trace.jsonl --spread-ties --out mooncake.parquet
  batchsim trace synth --arrival gamma --rate 5 --cv 2 --duration 600 \\
      --lengths mixture --component 0.8:128-512:64-256 --component 0.2:2048-4096:256-1024 \\
      --out bursty.csv
  batchsim trace synth --rate 4 --duration 600 --system-prompts 4 --system-prompt-tokens 1024 \
      --users 50 --multi-turn --out chat.csv
"""


def register(subparsers) -> None:
    """Add ``trace`` with its stats, convert and synth subcommands."""
    parser = subparsers.add_parser("trace", help=HELP["trace"],
                                   epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="trace_command", metavar="{stats,convert,synth}")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    stats = commands.add_parser("stats", help="count, rate, burstiness, length percentiles")
    stats.add_argument("trace", metavar="FILE")
    stats.add_argument("--json", action="store_true", help="print the statistics as JSON")
    add_trace_options(stats)
    stats.set_defaults(func=run_stats)
    convert = commands.add_parser("convert", help="write any supported trace as canonical")
    convert.add_argument("trace", metavar="FILE")
    convert.add_argument("--out", required=True, help="output .csv or .parquet")
    add_trace_options(convert)
    convert.set_defaults(func=run_convert)
    _register_synth(commands)


def _register_synth(commands) -> None:
    synth = commands.add_parser("synth", help="synthesize a trace from arrival and length models")
    synth.add_argument("--arrival", choices=["poisson", "gamma", "rate-csv", "all-at-once"],
                       default="poisson")
    synth.add_argument("--rate", type=float, help="requests per second (poisson, gamma)")
    synth.add_argument("--cv", type=float, default=1.0, help="gamma inter-arrival CV (default 1)")
    synth.add_argument("--rate-csv", help="CSV start_s,rate_per_s for --arrival rate-csv")
    synth.add_argument("--duration", type=float, help="seconds of arrivals")
    synth.add_argument("--num-requests", type=int, help="number of requests")
    synth.add_argument("--lengths", default="fixed",
                       choices=["fixed", "uniform", "lognormal", "empirical", "mixture"])
    synth.add_argument("--prompt-tokens", type=int, default=512, help="fixed prompt length")
    synth.add_argument("--output-tokens", type=int, default=128, help="fixed output length")
    synth.add_argument("--prompt-range", default="128-1024", help="uniform prompt LO-HI")
    synth.add_argument("--output-range", default="32-256", help="uniform output LO-HI")
    synth.add_argument("--lengths-from", metavar="FILE",
                       help="trace to fit (lognormal) or resample (empirical) lengths from")
    synth.add_argument("--component", action="append", default=[],
                       help="mixture component WEIGHT:PROMPT:OUTPUT (N or LO-HI); repeat")
    synth.add_argument("--system-prompts", type=int, default=0, metavar="N",
                       help="shared prefixes: N system prompts, user u starts with prompt u mod N")
    synth.add_argument("--system-prompt-tokens", type=int, default=0, metavar="TOKENS",
                       help="length of each system prompt (added before the drawn prompt)")
    synth.add_argument("--users", type=int, default=0, metavar="M",
                       help="requests drawn among M users (default: each request its own)")
    synth.add_argument("--multi-turn", action="store_true",
                       help="a user's requests are turns of one conversation: each prompt "
                            "holds every earlier turn's prompt and output")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--out", required=True, help="output .csv or .parquet")
    synth.set_defaults(func=run_synth)


def run_stats(args) -> int:
    """Print statistics of a trace (text table or JSON)."""
    from batchsim.traces.stats import describe

    trace = load_from_args(args)
    _print_notes(trace.notes)
    if trace.table.empty:
        print(f"{trace.source}: 0 requests")
        return 0
    stats = describe(trace.table, trace.prefix_block_tokens)
    if args.json:
        print(json.dumps({"source": trace.source, "format": trace.fmt, **_clean(asdict(stats))},
                         indent=2))
        return 0
    print(f"{trace.source} ({trace.fmt})")
    print(f"requests            {stats.count}")
    print(f"duration_s          {stats.duration_s:.3f}")
    print(f"rate_per_s          {stats.rate_per_s:.3f}")
    print(f"interarrival_cv     {stats.interarrival_cv:.3f}")
    print(f"burstiness (B)      {stats.burstiness:.3f}")
    print(f"{'tokens':<20}{'mean':>10}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}")
    for name, row in (("prompt", stats.prompt), ("output", stats.output)):
        print(f"{name:<20}{row.mean:>10.1f}{row.p50:>10.1f}{row.p90:>10.1f}{row.p99:>10.1f}"
              f"{row.max:>10d}")
    print(f"prompt/output corr  {stats.prompt_output_correlation:.3f}")
    if stats.prefix_reuse_fraction is not None:
        print(f"prefix reuse        {stats.prefix_reuse_fraction:.3f} of prompt tokens in "
              f"{trace.prefix_block_tokens}-token blocks seen earlier")
    return 0


def run_convert(args) -> int:
    """Write a trace in canonical CSV or Parquet."""
    from batchsim.atomic import check_output_file
    from batchsim.traces.canonical import write_canonical

    check_output_file(args.out, (".csv", ".parquet"), inputs=(args.trace,))
    trace = load_from_args(args)
    _print_notes(trace.notes)
    write_canonical(trace.table, args.out, prefix_block_tokens=trace.prefix_block_tokens)
    print(f"wrote {len(trace.table)} requests to {args.out}")
    return 0


def run_synth(args) -> int:
    """Synthesize a trace and write it."""
    import numpy as np

    from batchsim.atomic import check_output_file
    from batchsim.traces.canonical import write_canonical
    from batchsim.traces.shared_prefix import BLOCK_TOKENS as PREFIX_BLOCK_TOKENS
    from batchsim.traces.shared_prefix import add_shared_prefixes
    from batchsim.traces.synth import synthesize

    check_output_file(args.out, (".csv", ".parquet"))
    _check_synth_size(args)
    rng = np.random.default_rng(args.seed or 0)
    times = _arrivals(args, rng)
    table = synthesize(times, _lengths(args), rng)
    block_tokens = None
    if args.system_prompts or args.system_prompt_tokens or args.multi_turn:
        if args.multi_turn and not args.users:
            raise TraceError("--multi-turn needs --users M (the conversations)")
        try:
            table = add_shared_prefixes(table, rng, args.system_prompts,
                                        args.system_prompt_tokens, args.users, args.multi_turn)
        except ValueError as error:
            raise TraceError(f"shared prefixes: {error}") from None
        block_tokens = PREFIX_BLOCK_TOKENS
    write_canonical(table, args.out, prefix_block_tokens=block_tokens)
    print(f"wrote {len(table)} requests to {args.out}")
    return 0


def _check_synth_size(args) -> None:
    """The expected request count and span within the stated limits, before drawing any."""
    if args.num_requests is not None:
        if args.num_requests < 1:
            raise TraceError(f"--num-requests must be >= 1, got {args.num_requests}")
        args.limits.check("requests", args.num_requests, "--num-requests")
    if args.duration is not None:
        if not args.duration > 0:
            raise TraceError(f"--duration must be positive, got {args.duration:g}")
        args.limits.check("arrival_span_s", args.duration, "--duration (s)")
        if args.rate is not None and args.arrival in ("poisson", "gamma"):
            args.limits.check("requests", args.rate * args.duration, "--rate x --duration requests")
    if args.num_requests is not None and args.rate is not None and args.rate > 0:
        args.limits.check("arrival_span_s", args.num_requests / args.rate,
                          "--num-requests / --rate (s)")


def _arrivals(args, rng):
    import numpy as np

    from batchsim.traces import arrivals
    from batchsim.traces.readers.rates import read_rate_csv

    if (args.duration is None) == (args.num_requests is None) and args.arrival != "rate-csv":
        raise TraceError("give exactly one of --duration and --num-requests")
    if args.arrival == "all-at-once":
        if args.num_requests is None:
            raise TraceError("--arrival all-at-once needs --num-requests")
        return arrivals.all_at_once(args.num_requests)
    if args.arrival == "rate-csv":
        if not args.rate_csv or args.duration is None:
            raise TraceError("--arrival rate-csv needs --rate-csv FILE and --duration")
        starts, rates = read_rate_csv(args.rate_csv)
        widths = np.diff(np.append(starts, max(args.duration, float(starts[-1]))))
        args.limits.check("requests", float(np.sum(rates * widths)),
                          f"{args.rate_csv}: expected requests")
        return arrivals.rate_curve_arrivals(starts, rates, args.duration, rng)
    if args.rate is None:
        raise TraceError(f"--arrival {args.arrival} needs --rate")
    cv = 1.0 if args.arrival == "poisson" else args.cv
    return arrivals.gamma_arrivals(args.rate, cv, rng, duration_s=args.duration,
                                   count=args.num_requests)


def _lengths(args):
    from batchsim.traces.lengths import (EmpiricalLengths, FixedLengths, LogNormalLengths,
                                         MixtureLengths, UniformLengths)
    from batchsim.traces.load import load_trace
    from batchsim.traces.synth import parse_component

    if args.lengths == "fixed":
        return FixedLengths(args.prompt_tokens, args.output_tokens)
    if args.lengths == "uniform":
        prompt, output = _range(args.prompt_range), _range(args.output_range)
        return UniformLengths(*prompt, *output)
    if args.lengths == "mixture":
        if not args.component:
            raise TraceError("--lengths mixture needs one or more --component WEIGHT:PROMPT:OUTPUT")
        weights, models = zip(*(parse_component(text) for text in args.component))
        return MixtureLengths(tuple(weights), tuple(models))
    if not args.lengths_from:
        raise TraceError(f"--lengths {args.lengths} needs --lengths-from FILE")
    table = load_trace(args.lengths_from).table
    return LogNormalLengths.fit(table) if args.lengths == "lognormal" \
        else EmpiricalLengths.from_table(table)


def _range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise TraceError(f"length range {text!r}: expected LO-HI token counts") from None


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _clean(value):
    """JSON-safe: NaN becomes null."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return None if isinstance(value, float) and math.isnan(value) else value
