"""Before/after simulation speed: the same sim_speed measurement in two checkouts, alternated.

Usage (from the repository root; BEFORE and AFTER are checkouts, e.g. git worktrees):

    python -m benchmarks.sim_speed_pairs --before ../wt-main --after . \\
        --sources sharegpt mooncake --policies chunked vllm static continuous --size 1000000

For each trace and policy the arrival rate is set from this checkout's ``capacity`` (80% of a
replica's saturated throughput, as in sim_speed.py); then one fresh process runs
``sim_speed --one`` in BEFORE and one in AFTER, back to back, so that both see about the same
machine load. Each row ends with the load average before and after its run and the time.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks.sim_speed import HEADER, capacity, table_row


def run_in(tree: str, spec: dict) -> dict:
    """``sim_speed --one spec`` in the checkout at ``tree`` (its own code on the path)."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    out = subprocess.run([sys.executable, "-m", "benchmarks.sim_speed", "--one", json.dumps(spec)],
                         capture_output=True, text=True, cwd=tree, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{tree}: run {spec} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_average() -> str:
    """The 1-minute load average (Linux), or '?' where there is none."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="checkout measured first")
    parser.add_argument("--after", required=True, help="checkout measured second")
    parser.add_argument("--sources", nargs="+", default=["synthetic"])
    parser.add_argument("--policies", nargs="+", default=["static", "continuous", "chunked", "vllm"])
    parser.add_argument("--size", type=int, default=100_000, help="requests per run")
    parser.add_argument("--load", type=float, default=0.8, help="fraction of saturated throughput")
    args = parser.parse_args(argv)
    print("| code " + HEADER.replace("|---|", "|---|---|", 1), flush=True)
    for source in args.sources:
        for policy in args.policies:
            rate = args.load * capacity(source, policy, "roofline")
            spec = {"source": source, "n": args.size, "policy": policy, "replicas": 1,
                    "rate": rate, "cost": "roofline"}
            for name, tree in (("before", args.before), ("after", args.after)):
                start_load = load_average()
                result = run_in(tree, spec)
                result.update(wall_spread_s=(result["wall_s"], result["wall_s"]), shares=None)
                print(f"| {name} {table_row(spec, result)} <!-- load {start_load} -> "
                      f"{load_average()}, {time.strftime('%H:%M:%S')} -->", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
