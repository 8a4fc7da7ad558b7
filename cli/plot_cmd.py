"""``batchsim plot``: figures from sweep results or replay outputs, written as PNG and SVG.

Kinds and inputs:
  throughput-vs-batch  RESULTS (sweep .csv/.parquet): output tokens/s against batch limit
  latency-throughput   RESULTS: P99 TTFT and E2E against request rate, SLO drawn (--slo)
  cdf                  REPLAY_DIR ... (replay --out): TTFT, TPOT and E2E CDFs, one line each
  timeline             [REPLAY_DIR ...]: batch slots over time; no input runs the built-in
                       demo (36 requests, static batch_size 8 against continuous max_num_seqs 8)
  kv-queue             REPLAY_DIR: KV-cache usage and queue length over time

Examples:
  batchsim plot timeline --out figs/
  batchsim sweep --set batch=8,16,32,64,128,256 --set policy=static,continuous,chunked \\
      --set rate_scale=100 --limit 2000 --out runs/batch && \\
  batchsim plot throughput-vs-batch runs/batch.parquet --out figs/
  batchsim plot latency-throughput runs/rates.parquet --slo ttft_p99=2s,e2e_p99=30s --out figs/
"""
from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from batchsim.cli.commands import HELP
from batchsim.cli.argtypes import non_negative_int, positive_int
from batchsim.inputs import read_json

TITLE_WIDTH = 110  # characters per title line: long trace descriptions wrap, never cut off
KINDS = ("throughput-vs-batch", "latency-throughput", "cdf", "timeline", "kv-queue")


def register(subparsers) -> None:
    """Add the plot subcommand."""
    parser = subparsers.add_parser(
        "plot", help=HELP["plot"],
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="sweep results file or replay --out directories")
    parser.add_argument("--out", required=True, help="directory for KIND.png and KIND.svg")
    parser.add_argument("--slo",
                        help="latency-throughput, cdf: objectives to draw, e.g. ttft_p99=2s")
    parser.add_argument("--x", default="slots",
                        help="throughput-vs-batch: x column (default slots: the batch limit)")
    parser.add_argument("--by", help="latency-throughput: columns naming a line (default: policy "
                                      "and every other setting that varies, the rate aside)")
    parser.add_argument("--replica", type=non_negative_int, default=0,
                        help="timeline: which replica's slots to draw (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="timeline demo: trace seed")
    parser.add_argument("--requests", type=positive_int, default=48,
                        help="timeline: draw the first N requests admitted (default 48)")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Build the figure for ``args.kind`` and write it."""
    from batchsim.plots.save import save_figure

    figure = _FIGURES[args.kind](args)
    paths = save_figure(figure, args.out, args.kind)
    print(f"wrote {paths[0]} and {paths[1]}")
    return 0


def _one_input(args, what: str) -> str:
    if len(args.inputs) != 1:
        raise ValueError(f"{args.kind} takes one {what}, got {len(args.inputs)}")
    return args.inputs[0]


def read_results(path: str):
    """A sweep results table from .csv or .parquet."""
    import pandas as pd

    if not Path(path).is_file():
        raise ValueError(f"{path}: no such results file")
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    if path.endswith(".csv"):
        return pd.read_csv(path)
    raise ValueError(f"{path}: expected a sweep results .csv or .parquet")


def read_replay(directory: str) -> tuple:
    """(requests, steps, summary) from a replay --out directory."""
    import pandas as pd

    folder = Path(directory)
    names = ("requests.csv", "steps.csv", "summary.json")
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise ValueError(f"{directory}: not a replay --out directory "
                         f"(missing {', '.join(missing)})")
    summary = read_json(folder / "summary.json", what="summary.json", allow_constants=True)
    return pd.read_csv(folder / "requests.csv"), pd.read_csv(folder / "steps.csv"), summary


def _throughput(args):
    from batchsim.plots.throughput import throughput_vs_batch

    return throughput_vs_batch(read_results(_one_input(args, "results file")), x=args.x)


def _latency(args):
    from batchsim.planning.slo import parse_slo
    from batchsim.plots.latency import latency_vs_rate

    slo_s = {}
    for objective in parse_slo(args.slo) if args.slo else ():
        if objective.metric in ("ttft", "e2e") and objective.percentile == 99:
            slo_s[objective.metric] = objective.limit_s
    by = tuple(c.strip() for c in args.by.split(",")) if args.by else None
    return latency_vs_rate(read_results(_one_input(args, "results file")), slo_s, by)


def _labels(summaries: list[dict], inputs: list[str]) -> list[str]:
    labels = [s.get("policy", Path(p).name) for s, p in zip(summaries, inputs)]
    if len(set(labels)) < len(labels):
        labels = [f"{label} ({Path(p).name})" for label, p in zip(labels, inputs)]
    return labels


def _cdf(args):
    from batchsim.plots.latency import latency_cdfs

    if not args.inputs:
        raise ValueError("cdf needs one or more replay --out directories")
    runs = [read_replay(d) for d in args.inputs]
    labels = _labels([s for _, _, s in runs], args.inputs)
    return latency_cdfs({label: r for label, (r, _, _) in zip(labels, runs)},
                        run_title([s for _, _, s in runs], labels), _slo_limits(args.slo))


def _slo_limits(text: str | None) -> dict:
    """Objective limits in seconds by metric ('ttft', 'tpot', 'e2e') from --slo."""
    from batchsim.planning.slo import parse_slo

    return {o.metric: o.limit_s for o in parse_slo(text)} if text else {}


def run_title(summaries: list[dict], labels: list[str]) -> str:
    """What the runs replayed, at what rate, under which policy and cost model: the parts all
    runs share once, the rest per run."""
    from batchsim.plots.save import scenario_title

    def part(summary):
        rate = summary.get("request_rate")
        return {"trace": summary.get("trace"),
                "rate": f"{rate:.2f} req/s offered" if isinstance(rate, (int, float)) else None,
                "policy": summary.get("policy"), "cost model": summary.get("cost_model")}
    parts = [part(s) for s in summaries]
    shared = [f"{v}" for k, v in parts[0].items() if v and all(p[k] == v for p in parts)]
    differing = [k for k in parts[0] if any(p[k] != parts[0][k] for p in parts)
                 and not (k == "policy" and [p[k] for p in parts] == labels)]  # said by labels
    per_run = ["; ".join(f"{label}: " + ", ".join(str(p[k]) for k in differing if p[k])
                         for label, p in zip(labels, parts))] if differing else []
    text = ", ".join([scenario_title(summaries[0]), *shared] + per_run)
    return textwrap.fill(text, TITLE_WIDTH, break_on_hyphens=False)


def _timeline(args):
    from batchsim.plots.save import scenario_title
    from batchsim.plots.slots import first_admitted
    from batchsim.plots.timeline import slot_timeline

    if not args.inputs:
        from batchsim.planning.timeline_demo import demo_runs
        return slot_timeline(demo_runs(args.seed), "llama-3-8b on h200 (roofline), demo trace")
    runs = [read_replay(d) for d in args.inputs]
    labels = _labels([s for _, _, s in runs], args.inputs)
    panels = []
    for label, (requests, _, summary) in zip(labels, runs):
        mine = requests[requests["replica"] == args.replica]
        if mine.empty:
            raise ValueError(f"{label}: no requests on replica {args.replica}")
        shown = first_admitted(mine, args.requests)
        panels.append((f"{label}, replica {args.replica}, first {len(shown)} of {len(mine)}",
                       shown, 0, summary.get("policy") == "static"))
    return slot_timeline(panels, scenario_title(runs[0][2]))


def _kv_queue(args):
    from batchsim.plots.save import scenario_title
    from batchsim.plots.usage import kv_and_queue

    _, steps, summary = read_replay(_one_input(args, "replay --out directory"))
    context = f"{summary.get('policy', '')}, {scenario_title(summary)}"
    return kv_and_queue(steps, summary.get("kv_capacity_blocks"), context)


_FIGURES = {"throughput-vs-batch": _throughput, "latency-throughput": _latency, "cdf": _cdf,
            "timeline": _timeline, "kv-queue": _kv_queue}
