"""Simulation speed and memory: simulated requests per wall-second on traces of 10k to 1M requests.

Usage (from the repository root):

    python -m benchmarks.sim_speed                        # the committed matrix, ~15 min
    python -m benchmarks.sim_speed --sizes 100000 --policies continuous --replicas 1

Each measurement runs in a fresh Python process (so peak memory is that run's own) and times
the replay path: trace table -> requests, simulation, summary. Trace generation, imports and
report formatting are outside the timed span; the start-up cost is measured by
benchmarks/startup.py. Wall time is the median of ``--repeats`` runs.

Load: a replica's saturated throughput (requests/s) is measured per trace and policy by
replaying ``CAPACITY_SAMPLE`` requests of the same trace all at once on one replica
(completed / duration); arrivals are then scaled to ``--load`` x that x replicas.

Time shares come from one extra cProfile run per configuration (sizes up to --profile-max):
self time of each function, grouped by the file it lives in; builtins, numpy and other library
code count for the batchsim (or SimPy) function that called them. cProfile adds its own
overhead per call, so shares are a guide to where time goes, not exact fractions.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
POLICIES = ("static", "continuous", "chunked", "vllm")
CAPACITY_SAMPLE = 4000
GROUPS = (  # (share name, substring of the file path), first match wins
    ("simpy", "simpy/"), ("loop", "simulator/simulation.py"), ("loop", "simulator/router.py"),
    ("policies", "policies/"), ("cost", "simulator/roofline.py"), ("cost", "simulator/cost.py"),
    ("cost", "simulator/profile_cost.py"), ("metrics", "simulator/metrics.py"),
    ("summary", "simulator/summary.py"), ("summary", "simulator/weighted.py"),
    ("replica", "simulator/replica.py"), ("replica", "simulator/decode_run.py"),
    ("replica", "simulator/replica_runs.py"), ("replica", "simulator/chunk_run.py"),
    ("replica", "simulator/finish_runs.py"), ("replica", "simulator/decoding_set.py"),
    ("replica", "simulator/prefix_cache.py"), ("metrics", "simulator/outcomes.py"),
    ("replica", "simulator/kv_cache.py"), ("replica", "simulator/step.py"),
    ("replica", "simulator/request.py"), ("requests", "simulator/workload.py"),
)


def build(source: str, n: int, policy: str, replicas: int, rate: float, cost: str = "roofline",
          seed: int = 0):
    """(requests table, scenario, cost model) for one measurement; arrivals at ``rate``/s."""
    from benchmarks.workloads import MODELS, make_table
    from batchsim.planning.costs import build_cost_model
    from batchsim.planning.scenario import Scenario
    from batchsim.simulator.config import ServingConfig

    table = make_table(source, n, seed)
    table["arrival_s"] = table["arrival_s"] / rate if rate > 0 else 0.0
    model = MODELS.get(source, "llama-3-8b")
    scenario = Scenario(model=model, serving=ServingConfig(policy=policy, replicas=replicas))
    # "profile": the bundled profile replay uses by default (roofline where none ships)
    return table, scenario, build_cost_model("h200", model, "roofline" if cost == "roofline" else None)


def replay(table, scenario, cost_model):
    """The timed span: table -> requests -> simulation -> summary (planning.run_scenario)."""
    from batchsim.planning.scenario import run_scenario

    return run_scenario(scenario, table, cost_model)


def capacity(source: str, policy: str, cost: str) -> float:
    """Saturated requests/s of one replica: CAPACITY_SAMPLE requests arriving together."""
    table, scenario, cost_model = build(source, CAPACITY_SAMPLE, policy, 1, 0.0, cost)
    return replay(table, scenario, cost_model).summary["request_throughput"]


def measure_one(spec: dict) -> dict:
    """Run one configuration in this process; return times, memory and outcome counts."""
    import resource

    table, scenario, cost_model = build(spec["source"], spec["n"], spec["policy"],
                                        spec["replicas"], spec["rate"], spec["cost"])
    start = time.perf_counter()
    cpu_start = time.process_time()
    if spec.get("profile"):
        return _profiled(table, scenario, cost_model)
    run = replay(table, scenario, cost_model)
    wall_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_start
    s = run.summary
    return {"wall_s": wall_s, "cpu_s": cpu_s,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "completed": s["completed"], "rejected": s["rejected"], "num_steps": s["num_steps"],
            "rows": _rows(run.result.recorder), "max_waiting": s["max_waiting"],
            "throughput": s["request_throughput"], "sim_duration_s": s["duration"],
            "p50_ttft_ms": s["median_ttft_ms"], "busy": s["gpu_busy_fraction"]}


def _rows(recorder) -> int:
    # older Recorders (before the packed rows) have no num_rows: count a column instead
    rows = getattr(recorder, "num_rows", None)
    return rows if rows is not None else len(recorder.steps["steps"])


def _profiled(table, scenario, cost_model) -> dict:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(replay, table, scenario, cost_model)
    stats = pstats.Stats(profiler).stats
    shares: dict[str, float] = {}
    for func, (_, _, self_s, _, callers) in stats.items():
        for group, seconds in _attribute(func, self_s, callers, stats, 4):
            shares[group] = shares.get(group, 0.0) + seconds
    total = sum(shares.values())
    return {"shares": {k: v / total for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}}


def _group(path: str) -> str | None:
    return next((name for name, part in GROUPS if part in path), None)


def _attribute(func, self_s: float, callers: dict, stats: dict, depth: int):
    """Self time of ``func`` by group; builtins and library code count for their callers."""
    group = _group(func[0])
    if group or depth == 0 or not callers:
        yield group or "other", self_s
        return
    called_s = sum(entry[2] for entry in callers.values()) or 1.0
    for caller, entry in callers.items():
        share_s = self_s * entry[2] / called_s
        caller_callers = stats.get(caller, (0, 0, 0, 0, {}))[4]
        yield from _attribute(caller, share_s, caller_callers, stats, depth - 1)


def in_child(spec: dict) -> dict:
    """Run ``measure_one`` in a fresh interpreter so its peak memory is its own."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.sim_speed", "--one", json.dumps(spec)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"run {spec} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(spec: dict, repeats: int, profile: bool) -> dict:
    """Median wall time over ``repeats`` child runs, plus one profiled run's shares."""
    runs = [in_child(spec) for _ in range(repeats)]
    result = dict(runs[0])
    result["wall_s"] = statistics.median(r["wall_s"] for r in runs)
    result["wall_spread_s"] = (min(r["wall_s"] for r in runs), max(r["wall_s"] for r in runs))
    result["peak_mb"] = max(r["peak_mb"] for r in runs)
    result["cpu_s"] = statistics.median(r.get("cpu_s", r["wall_s"]) for r in runs)
    result["shares"] = in_child(dict(spec, profile=True))["shares"] if profile else None
    return result


def _shares_text(shares: dict | None) -> str:
    if not shares:
        return "-"
    return " ".join(f"{name} {share:.0%}" for name, share in shares.items() if share >= 0.02)


def table_row(spec: dict, r: dict) -> str:
    """One markdown row."""
    low, high = r["wall_spread_s"]
    return (f"| {spec['source']} | {spec['cost']} | {spec['policy']} | {spec['replicas']} | {spec['n']:,} | "
            f"{spec['rate']:.2f} | {r['wall_s']:.2f} ({low:.2f}-{high:.2f}) | "
            f"{spec['n'] / r['wall_s']:,.0f} | {r['cpu_s']:.2f} | {spec['n'] / r['cpu_s']:,.0f} | "
            f"{r['peak_mb']:,.0f} | {r['completed']:,} / "
            f"{r['rejected']:,} | {r['num_steps']:,} / {r['rows']:,} | {r['max_waiting']:,} | "
            f"{_shares_text(r['shares'])} |")


HEADER = ("| trace | cost model | policy | replicas | requests | arrivals/s | "
          "wall s, median (min-max) | sim req/s | CPU s | req per CPU s | peak MB | "
          "completed / rejected | steps / rows | max waiting | time shares (cProfile self time) "
          "|\n|" + "---|" * 15)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--sources", nargs="+", default=["synthetic"])
    parser.add_argument("--sizes", nargs="+", type=int, default=list(DEFAULT_SIZES))
    parser.add_argument("--policies", nargs="+", default=list(POLICIES))
    parser.add_argument("--replicas", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--load", type=float, default=0.8, help="fraction of saturated throughput")
    parser.add_argument("--cost", choices=("roofline", "profile"), default="roofline",
                        help="roofline, or the bundled profile batchsim replay uses by default")
    parser.add_argument("--repeats", type=int, default=3, help="runs per size up to 100k")
    parser.add_argument("--big-repeats", type=int, default=1, help="runs per size above 100k")
    parser.add_argument("--profile-max", type=int, default=100_000, help="profile sizes up to this")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(json.loads(args.one))))
        return 0
    print(HEADER)
    for source in args.sources:
        for policy in args.policies:
            per_replica = capacity(source, policy, args.cost)
            print(f"<!-- {source} {policy} ({args.cost}): saturated {per_replica:.2f} req/s per "
                  f"replica; arrivals at {args.load:.0%} of it -->", flush=True)
            for replicas in args.replicas:
                for n in args.sizes:
                    spec = {"source": source, "n": n, "policy": policy, "replicas": replicas,
                            "rate": args.load * per_replica * replicas, "cost": args.cost}
                    repeats = args.repeats if n <= 100_000 else args.big_repeats
                    result = measure(spec, repeats, n <= args.profile_max)
                    print(table_row(spec, result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
