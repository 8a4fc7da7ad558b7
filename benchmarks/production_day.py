"""A production day: ten million requests in the Azure 2024 trace format, replayed whole.

Usage (from the repository root):

    python -m benchmarks.production_day --requests 10000000 --replicas 10

The day is synthesized into a temporary directory (nothing is committed): ``TIMESTAMP,
ContextTokens,GeneratedTokens`` rows with UTC timestamps such as ``2024-05-13 14:03:07.123456+00:00``
(the 2024 release's form), arrivals over 24 hours following a diurnal rate curve (hourly weights
from a quiet 04:00 to a busy 15:00, ratio 1:3, uniform within each hour), prompt and output
lengths drawn from the bundled default trace's length models (Azure 2023 conversation
statistics). The day is then replayed as a user would: ``python -m batchsim.cli.main replay
--trace day.csv --replicas N --json``, one fresh process, its resident memory read from
/proc every ``--poll-s`` seconds while it runs (time, MB) and its peak from the kernel's
accounting at exit. The report gives the generation time, the wall time and peak memory of the
replay, its CPU seconds (user + system, from the kernel's accounting of the child), the memory
curve, and the replay's counts.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from batchsim.traces.default import default_length_models

DAY_S = 86_400
# relative request rate per UTC hour: a quiet night (04:00) and a busy afternoon (15:00)
HOURLY_WEIGHTS = np.array([1.6, 1.4, 1.2, 1.05, 1.0, 1.05, 1.2, 1.5, 1.9, 2.3, 2.6, 2.8,
                           2.9, 2.95, 3.0, 3.0, 2.9, 2.7, 2.5, 2.3, 2.1, 2.0, 1.9, 1.75])
START = np.datetime64("2024-05-13T00:00:00", "us")
CHUNK_ROWS = 1_000_000


def write_day(path: Path, requests: int, seed: int = 0) -> None:
    """Write ``requests`` rows of one synthetic day to ``path`` (Azure 2024 CSV)."""
    rng = np.random.default_rng(seed)
    per_hour = rng.multinomial(requests, HOURLY_WEIGHTS / HOURLY_WEIGHTS.sum())
    offsets_s = np.sort(np.repeat(np.arange(24) * 3600.0, per_hour)
                        + rng.random(requests) * 3600.0)
    prompt_model, output_model = default_length_models()
    with open(path, "w", encoding="ascii", newline="") as handle:
        handle.write("TIMESTAMP,ContextTokens,GeneratedTokens\n")
        for start in range(0, requests, CHUNK_ROWS):
            part = offsets_s[start:start + CHUNK_ROWS]
            stamps = START + np.round(part * 1e6).astype("timedelta64[us]")
            text = np.datetime_as_string(stamps, unit="us").tolist()
            prompts = prompt_model.sample(len(part), rng).tolist()
            outputs = output_model.sample(len(part), rng).tolist()
            handle.write("".join(f"{t.replace('T', ' ')}+00:00,{p},{o}\n"
                                 for t, p, o in zip(text, prompts, outputs)))


def replay(path: Path, replicas: int, poll_s: float) -> dict:
    """Replay the day in a fresh process; wall time, peak and sampled resident memory."""
    command = [sys.executable, "-m", "batchsim.cli.main", "replay", "--trace", str(path),
               "--replicas", str(replicas), "--json"]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    curve = []
    while True:  # sample memory every poll_s, and note the exit as it happens (not a poll late)
        curve.append((round(time.perf_counter() - start, 1), _rss_mb(child.pid)))
        try:
            child.wait(timeout=poll_s)
            break
        except subprocess.TimeoutExpired:
            pass
    wall_s = time.perf_counter() - start
    out, err = child.communicate()
    if child.returncode:
        raise SystemExit(f"replay failed: {err.strip()[-500:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the replay is the only child
    return {"wall_s": wall_s, "peak_mb": usage.ru_maxrss / 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime, "curve": [c for c in curve if c[1]],
            "summary": json.loads(out)}


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--poll-s", type=float, default=5.0)
    args = parser.parse_args(argv)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "azure2024_day.csv"
        start = time.perf_counter()
        write_day(path, args.requests, args.seed)
        print(f"generated {args.requests:,} requests ({path.stat().st_size / 1e6:,.0f} MB CSV) "
              f"in {time.perf_counter() - start:.1f} s")
        run = replay(path, args.replicas, args.poll_s)
    s = run["summary"]
    print(f"replay --trace <day.csv> --replicas {args.replicas} --json: wall {run['wall_s']:.1f} s, "
          f"{args.requests / run['wall_s']:,.0f} requests/s, CPU {run['cpu_s']:.1f} s (user + "
          f"system), peak RSS {run['peak_mb']:,.0f} MB")
    print(f"completed {s['completed']:,}, rejected {s['rejected']:,}, simulated steps "
          f"{s['num_steps']:,}, simulated duration {s['duration']:,.0f} s, GPU busy "
          f"{s['gpu_busy_fraction']:.3f}, max waiting {s['max_waiting']}, p99 TTFT "
          f"{s['p99_ttft_ms']:.1f} ms, percentiles exact: {s['exact_percentiles']} "
          f"(sketched: {s['sketched_metrics'] or 'none'}, bound {s['percentile_relative_error']:.0%})")
    print("resident memory while replaying (s, MB): "
          + ", ".join(f"{t:g} {mb:,.0f}" for t, mb in run["curve"]))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
