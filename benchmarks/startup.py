"""Cold start of ``batchsim replay`` on the bundled default trace, and where its time goes.

Usage (from the repository root): ``python -m benchmarks.startup [--runs 5]``

Each run is a fresh interpreter executing ``python -m batchsim.cli.main replay`` (what the ``batchsim``
script runs), timed from start to exit: imports, default trace, simulation, summary and the
printed report. A second part times the same steps inside one process, to say which part of a
run is imports, trace generation, simulation, summary and report.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

REPLAY = [sys.executable, "-m", "batchsim.cli.main", "replay"]


def whole_runs(runs: int) -> list[float]:
    """Wall seconds of ``runs`` fresh ``batchsim replay`` processes."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(REPLAY, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


PHASES = """
import time
t0 = time.perf_counter()
import batchsim.cli.main
from batchsim.cli.report import format_report
from batchsim.planning.scenario import Scenario, run_scenario
from batchsim.traces.default import default_trace
import batchsim.simulator.summary
t1 = time.perf_counter()
table = default_trace(seed=0)
t2 = time.perf_counter()
run = run_scenario(Scenario(), table)
t3 = time.perf_counter()
text = format_report(run.summary, [])
t4 = time.perf_counter()
modules = sorted(m for m in ("torch", "matplotlib", "transformers", "pandas", "simpy") if m in __import__("sys").modules)
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f} {t4 - t3:.3f} {len(table)} {','.join(modules)}")
"""


def phases() -> tuple[list[float], int, str]:
    """(imports, trace, simulate + summary, report) seconds in one fresh process."""
    out = subprocess.run([sys.executable, "-c", PHASES], check=True, capture_output=True, text=True)
    *seconds, count, modules = out.stdout.split()
    return [float(x) for x in seconds], int(count), modules


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    subprocess.run(REPLAY, check=True, capture_output=True)  # warm the file cache once
    times = whole_runs(args.runs)
    print(f"batchsim replay (default trace), {args.runs} fresh processes: median "
          f"{statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")
    split = [phases() for _ in range(3)]
    parts = [statistics.median(run[0][i] for run in split) for i in range(4)]
    print(f"inside one process (median of 3): imports {parts[0]:.2f} s, default trace "
          f"({split[0][1]:,} requests) {parts[1]:.3f} s, simulation + summary {parts[2]:.2f} s, "
          f"report {parts[3]:.3f} s; heavy modules loaded: {split[0][2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
