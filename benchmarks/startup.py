"""Cold start of ``batchsim replay --limit 1000`` (and ``--help``), and where its time goes.

Usage (from the repository root): ``python -m benchmarks.startup [--runs 5] [--limit 1000]``

Each run is a fresh interpreter executing ``python -m batchsim.cli.main replay --limit N``
(what the ``batchsim`` script runs; ``--limit 0`` replays the whole default hour), timed from
start to exit: imports, default trace, simulation, summary and the printed report. A second
part times the same steps inside one process, to say which part of a run is imports, trace
generation, simulation, summary and report, and lists the heavy libraries a replay loaded.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CLI = [sys.executable, "-m", "batchsim.cli.main"]


def whole_runs(runs: int, args: list[str]) -> list[float]:
    """Wall seconds of ``runs`` fresh ``batchsim ARGS`` processes."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(CLI + args, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


PHASES = """
import time
t0 = time.perf_counter()
import sys
import batchsim.cli.main
from batchsim.cli.report import format_report
from batchsim.planning.scenario import Scenario, run_scenario
from batchsim.traces.default import default_columns
import batchsim.simulator.summary
t1 = time.perf_counter()
table = default_columns(seed=0)
limit = int(sys.argv[1]) or None
table = {name: column[:limit] for name, column in table.items()}
t2 = time.perf_counter()
run = run_scenario(Scenario(), table)
t3 = time.perf_counter()
text = format_report(run.summary, [])
t4 = time.perf_counter()
modules = sorted(m for m in ("torch", "matplotlib", "transformers", "pandas", "simpy") if m in __import__("sys").modules)
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f} {t4 - t3:.3f} {len(table['arrival_s'])} {','.join(modules) or 'none'}")
"""


def phases(limit: int) -> tuple[list[float], int, str]:
    """(imports, trace, simulate + summary, report) seconds in one fresh process."""
    out = subprocess.run([sys.executable, "-c", PHASES, str(limit)], check=True,
                         capture_output=True, text=True)
    *seconds, count, modules = out.stdout.split()
    return [float(x) for x in seconds], int(count), modules


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=1000, help="requests replayed (0: all)")
    args = parser.parse_args(argv)
    replay = ["replay"] + (["--limit", str(args.limit)] if args.limit else [])
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for command in (["--help"], replay):
        subprocess.run(CLI + command, check=True, capture_output=True)  # warm the file cache
        times = whole_runs(args.runs, command)
        print(f"batchsim {' '.join(command)}, {args.runs} fresh processes: median "
              f"{statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")
    split = [phases(args.limit) for _ in range(3)]
    parts = [statistics.median(run[0][i] for run in split) for i in range(4)]
    print(f"inside one process (median of 3): imports {parts[0]:.2f} s, default trace "
          f"({split[0][1]:,} requests) {parts[1]:.3f} s, simulation + summary {parts[2]:.2f} s, "
          f"report {parts[3]:.3f} s; heavy modules loaded: {split[0][2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
