"""Benchmark: read N Azure-format rows (default 1,000,000) and generate the default trace.

Writes a synthetic Azure 2023-format CSV (7 fractional digits, no zone) to a temporary folder,
times ``load_trace`` on it (best of --repeat), records the peak resident memory of this
process, and prints a Markdown report. Usage:

    python benchmarks/bench_trace_read.py --rows 1000000 > benchmarks/trace_read.md
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchsim.traces.default import default_trace  # noqa: E402
from batchsim.traces.load import load_trace  # noqa: E402


def write_azure_csv(path: Path, rows: int, seed: int) -> None:
    """Azure 2023 layout: ~5.5 req/s timestamps with 7 fractional digits."""
    rng = np.random.default_rng(seed)
    offsets_ns = np.cumsum(rng.exponential(1 / 5.53, rows) * 1e9).astype(np.int64)
    stamps = pd.Timestamp("2023-11-16 18:15:46") + pd.to_timedelta(offsets_ns, unit="ns")
    text = pd.Series(stamps).dt.strftime("%Y-%m-%d %H:%M:%S.%f") + "0"
    frame = pd.DataFrame({"TIMESTAMP": text,
                          "ContextTokens": rng.integers(1, 8000, rows),
                          "GeneratedTokens": rng.integers(1, 1000, rows)})
    frame.to_csv(path, index=False)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "azure.csv"
        write_azure_csv(path, args.rows, seed=0)
        size_mib = path.stat().st_size / 2**20
        rss_before = peak_rss_mib()
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            trace = load_trace(path)
            times.append(time.perf_counter() - start)
        rss_after = peak_rss_mib()
        table_mib = trace.table.memory_usage(deep=True).sum() / 2**20
        assert len(trace.table) == args.rows
    default_trace()  # first call fits the length models
    default_times = []
    for seed in range(10):
        start = time.perf_counter()
        default_trace(seed)
        default_times.append(time.perf_counter() - start)
    print("# Trace reading benchmark\n")
    print(f"Command: `python benchmarks/bench_trace_read.py --rows {args.rows} "
          f"--repeat {args.repeat}`\n")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}\n")
    print("| measurement | value |\n|---|---|")
    print(f"| Azure-format rows read | {args.rows:,} ({size_mib:.1f} MiB CSV) |")
    print(f"| load_trace time, best of {args.repeat} | {min(times):.2f} s |")
    print(f"| load_trace time, all runs | {', '.join(f'{t:.2f}' for t in times)} s |")
    print(f"| canonical table in memory | {table_mib:.1f} MiB ({table_mib * 2**20 / args.rows:.0f} "
          "bytes/row) |")
    print(f"| process peak RSS after writing the CSV / after reading it | {rss_before:.0f} / {rss_after:.0f} MiB |")
    print(f"| default_trace (1 h, ~19,900 requests), best of 10 | "
          f"{min(default_times) * 1000:.1f} ms |")
    print(f"| default_trace, worst of 10 | {max(default_times) * 1000:.1f} ms |")
    print("\nRows are read in chunks of 1,000,000 (traces/readers/csvio.py), so the raw text of "
          "one chunk is the only transient; the kept table is 32 bytes/row (4 numeric columns).")


if __name__ == "__main__":
    main()
