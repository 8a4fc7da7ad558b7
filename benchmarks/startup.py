"""Cold start of ``batchsim replay --limit 1000`` (and ``--help``), and where its time goes.

Usage (from the repository root): ``python -m benchmarks.startup [--runs 7] [--limit 1000]``

Each run is a fresh interpreter executing ``python -m batchsim.cli.main replay --limit N``
(what the ``batchsim`` script runs; ``--limit 0`` replays the whole default hour), timed from
start to exit: imports, default trace, simulation, summary and the printed report; the CPU
seconds (user + system) are given beside the wall seconds, since other jobs on a shared machine
stretch the wall. Two settings: as this environment runs Python (where PYTHONDONTWRITEBYTECODE
is set, every batchsim module is compiled afresh in every process), and with compiled bytecode
cached (in a temporary PYTHONPYCACHEPREFIX, primed by one run), as an installed package runs:
pip compiles the modules at install. A second part times the steps inside one process, to say
which part of a run is imports, trace generation, simulation, summary and report, and lists the
heavy libraries a replay loaded.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

CLI = [sys.executable, "-m", "batchsim.cli.main"]


def whole_runs(runs: int, args: list[str], env: dict) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` fresh ``batchsim ARGS`` processes."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(CLI + args, check=True, capture_output=True, env=env)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return walls, cpus


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
modules = sorted(m for m in ("torch", "matplotlib", "transformers", "pandas", "simpy", "numpy", "yaml",
                          "pydantic", "tqdm") if m in __import__("sys").modules)
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
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--limit", type=int, default=1000, help="requests replayed (0: all)")
    args = parser.parse_args(argv)
    replay = ["replay"] + (["--limit", str(args.limit)] if args.limit else [])
    with tempfile.TemporaryDirectory() as cache:
        settings = {"as configured": dict(os.environ),
                    "bytecode cached": {**{k: v for k, v in os.environ.items()
                                           if k != "PYTHONDONTWRITEBYTECODE"},
                                        "PYTHONPYCACHEPREFIX": cache}}
        for setting, env in settings.items():
            for command in (["--help"], replay):
                subprocess.run(CLI + command, check=True, capture_output=True, env=env)  # warm
                load = os.getloadavg()[0]
                walls, cpus = whole_runs(args.runs, command, env)
                print(f"{setting}: batchsim {' '.join(command)}, {args.runs} fresh processes: "
                      f"wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max "
                      f"{max(walls):.2f}), CPU median {statistics.median(cpus):.2f} s; load "
                      f"average {load:.2f} -> {os.getloadavg()[0]:.2f}")
    split = [phases(args.limit) for _ in range(3)]
    parts = [statistics.median(run[0][i] for run in split) for i in range(4)]
    print(f"inside one process (median of 3, as configured): imports {parts[0]:.2f} s, default "
          f"trace ({split[0][1]:,} requests) {parts[1]:.3f} s, simulation + summary "
          f"{parts[2]:.2f} s, report {parts[3]:.3f} s; heavy modules loaded: {split[0][2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
