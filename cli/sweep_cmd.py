"""``batchsim sweep``: replay a grid of settings and write one results table.

Examples:
  batchsim sweep --set batch=8,16,32,64,128,256 --set policy=static,continuous,chunked \\
      --limit 2000 --out sweep/results
  batchsim sweep --grid grid.yaml --trace conv.csv --workers 2 --out results
  batchsim sweep --set rate_scale=0.5,1,2,4 --set replicas=1,2 --ray auto --out results

A grid file maps settings to a list of values (an axis) or one value (fixed), e.g.
  policy: [static, continuous]
  max_num_seqs: [16, 64, 256]
  model: llama-3-8b
Sweep-only settings: rate_scale (arrival times divided by it) and batch (batch_size and
max_num_seqs together). Writes OUT.csv and OUT.parquet, one row per point, atomically;
finished points are kept in OUT.partial.jsonl while it runs, so an interrupted sweep continues
with --resume.
"""
from __future__ import annotations

import argparse
import os
import sys

from batchsim.cli.commands import HELP
from batchsim.cli.progress import add_quiet_flag, progress_bar
from batchsim.cli.replay import add_scenario_flags, load_table, scenario_from_args

SHOWN = (("output_throughput", "out tok/s", "{:,.0f}"), ("p99_ttft_ms", "P99 TTFT ms", "{:,.1f}"),
         ("p99_tpot_ms", "P99 TPOT ms", "{:,.1f}"), ("p99_e2el_ms", "P99 E2E ms", "{:,.0f}"),
         ("rejected", "rejected", "{:,}"))


def register(subparsers) -> None:
    """Add the sweep subcommand."""
    from batchsim.traces.cli_options import add_trace_options

    parser = subparsers.add_parser(
        "sweep", help=HELP["sweep"],
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", default=[], metavar="SETTING=V1,V2,...",
                        help="an axis of the grid (repeat for more axes)")
    parser.add_argument("--grid", help="YAML grid file (axes and fixed settings)")
    parser.add_argument("--out", required=True, help="output stem: writes OUT.csv, OUT.parquet")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted sweep from OUT.partial.jsonl")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="local worker processes (default: all cores)")
    parser.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                        help="run on Ray: a local instance, or the cluster at ADDRESS")
    parser.add_argument("--trace", help="trace file in any supported format (default: bundled)")
    add_trace_options(parser, model_flag="--trace-model")
    add_scenario_flags(parser)
    add_quiet_flag(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    """Build the grid, run it, write the table and print one line per point."""
    from batchsim.planning.grid import SweepGrid, grid_from_sets, load_grid
    from batchsim.atomic import check_output_file
    from batchsim.planning.sweep import (PartialResults, SweepTask, applicable_points,
                                         check_points, run_sweep, sweep_fingerprint,
                                         write_results)

    grids = [grid_from_sets(args.set)] if args.set else []
    if args.grid:
        grids.append(load_grid(args.grid))
    if not grids:
        raise ValueError("sweep needs --set SETTING=V1,V2,... or --grid FILE")
    grid = SweepGrid(sum((g.axes for g in grids), ()), sum((g.fixed for g in grids), ()))
    for suffix in (".csv", ".parquet"):
        check_output_file(args.out + suffix)  # before any point runs
    base = scenario_from_args(args)
    points, skipped = applicable_points(base, grid.points(args.limits))
    check_points(base, points)
    if skipped:
        print(f"batchsim: skipped {skipped} of {skipped + len(points)} grid points that repeat "
              f"another: a policy ignores the knobs it does not read (static: max_num_seqs, "
              f"max_num_batched_tokens; continuous, chunked: batch_size, max_wait_s)",
              file=sys.stderr)
    tables = _tables(args, base, points)
    partial = PartialResults(args.out, sweep_fingerprint(base, points, tables))
    if partial.path.exists() and not args.resume:
        print(f"batchsim: note: {partial.path} (an interrupted sweep) is replaced; --resume "
              "would have continued it", file=sys.stderr)
    kept = partial.resume() if args.resume else {}
    partial.start(kept)
    tasks = [SweepTask(i, base, settings, table)
             for i, (settings, table) in enumerate(zip(points, tables)) if i not in kept]
    with progress_bar(args, len(points), "sweep", "point", initial=len(kept)) as bar:
        done = lambda index: bar.update(1)  # noqa: E731
        try:
            if args.ray and tasks:
                from batchsim.planning.sweep_ray import run_sweep_ray
                frame = run_sweep_ray(tasks, None if args.ray == "local" else args.ray, done)
                for _, row in frame.iterrows():
                    partial.add(row.to_dict())
            else:
                frame = run_sweep(tasks, args.workers, done, partial=partial)
        except KeyboardInterrupt:
            print(f"batchsim: sweep interrupted; finished points are kept in {partial.path} "
                  "(rerun with --resume to continue)", file=sys.stderr)
            raise
    if kept:
        frame = _with_kept(frame, kept)
    extrapolated = frame[frame["range_status"] == "extrapolated"]
    if args.strict_range and len(extrapolated):
        worst = extrapolated.loc[extrapolated["extrapolation_worst_ratio"].idxmax()]
        raise ValueError(f"--strict-range: {len(extrapolated)} of {len(frame)} points go beyond "
                         f"the profile's measured range (point {worst['point']}: "
                         f"{worst['extrapolation_worst_dimension']} "
                         f"{worst['extrapolation_worst_ratio']:.2f}x)")
    paths = write_results(frame, args.out)
    partial.finish()
    print(_format(frame, [name for name, _ in grid.axes]))
    print(_range_line(frame))
    skipped_text = f"; {skipped} duplicate grid points skipped" if skipped else ""
    print(f"wrote {paths[0]} and {paths[1]} ({len(frame)} points{skipped_text})")
    return 0


def _range_line(frame) -> str:
    """How many points were priced beyond the profile's measured range (columns range_*)."""
    statuses = set(frame["range_status"])
    if statuses == {"unprofiled"}:
        return "measured range: unprofiled: roofline estimate"
    extrapolated = frame[frame["range_status"] == "extrapolated"]
    if not len(extrapolated):
        return "measured range: every point's steps inside the profile's measured range"
    worst = extrapolated.loc[extrapolated["extrapolation_worst_ratio"].idxmax()]
    return (f"measured range: {len(extrapolated)} of {len(frame)} points extrapolated (columns "
            f"range_status, extrapolated_share, extrapolation_worst_*; furthest: point "
            f"{worst['point']}, {worst['extrapolation_worst_dimension']} "
            f"{worst['extrapolation_worst_ratio']:.2f}x on {worst['extrapolated_share']:.1%} "
            f"of its steps)")


def _with_kept(frame, kept: dict):
    """The new rows and those resumed from the partial file, in point order."""
    from batchsim.planning.sweep import results_frame

    rows = [kept[i] for i in sorted(kept)] + (frame.to_dict("records") if len(frame) else [])
    return results_frame(rows)


def _tables(args, base, points):
    """The trace of every point; each distinct (trace, seed) is loaded once."""
    from batchsim.planning.sweep import point_scenario

    cache: dict = {}
    tables = []
    for settings in points:
        scenario, _ = point_scenario(base, settings)
        key = (scenario.trace, scenario.seed)
        if key not in cache:
            cache[key] = load_table(args, scenario)[0]
        tables.append(cache[key])
    return tables


def _setting(row, axis: str) -> str:
    import pandas as pd

    value = row.get(axis)
    return "-" if pd.isna(value) else str(value)  # "-": the policy does not read this knob


def _format(frame, axes: list[str]) -> str:
    headers = ["point", *axes, *(title for _, title, _ in SHOWN)]
    rows = [[str(row["point"]), *(_setting(row, a) for a in axes),
             *(fmt.format(row[key]) for key, _, fmt in SHOWN)] for _, row in frame.iterrows()]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)
