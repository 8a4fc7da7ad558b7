"""Sweeps: one full replay per grid point, gathered into one table (one row per point).

A point's row is its settings, the policy's batch capacity (``slots``: batch_size for static,
max_num_seqs otherwise), the offered request rate (requests over the arrival span, after rate
scaling), every summary metric, flattened (percentile lists become ``p50_ttft_ms``-style
columns, the rejection reasons a JSON string), and the cost model's warnings about steps beyond
a profile's measured range (empty when none). A point is computed by
``run_point`` alone from its settings and trace, in whichever process runs it, so results are
identical serially, over local processes or on Ray; rows come back in point order.

Finished points are appended, one JSON line each, to ``OUT.partial.jsonl`` as they finish; an
interrupted sweep keeps them there and ``resume`` skips them (the file's first line fingerprints
the grid, base scenario and traces so that a changed sweep is never mixed with an old one). The
results (``OUT.csv``, ``OUT.parquet``) are written atomically as one set, then the partial file
is removed.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from batchsim.atomic import atomic_files, dumps_json
from batchsim.inputs import InputError, parse_json

from batchsim.planning.costs import describe_cost_model
from batchsim.planning.grid import scenario_overrides
from batchsim.planning.scenario import Scenario, prepare, run_scenario, with_overrides
from batchsim.planning.workers import ignore_sigint
from batchsim.policies import POLICIES, policy_class


@dataclass(frozen=True)
class SweepTask:
    """One point: everything a worker needs (picklable, spawn-safe)."""

    index: int
    base: Scenario
    settings: dict
    table: object  # the canonical trace this point replays, before rate scaling


def point_scenario(base: Scenario, settings: dict) -> tuple[Scenario, float]:
    """The scenario and rate scale a point's settings describe."""
    overrides, scale = scenario_overrides(settings)
    return with_overrides(base, overrides), scale


def check_points(base: Scenario, points: list[dict]) -> None:
    """Validate every point's knobs before anything runs; the error names the point."""
    for index, settings in enumerate(points):
        try:
            scenario, _ = point_scenario(base, settings)
            prepare(scenario)
        except (ValueError, TypeError) as error:
            described = ", ".join(f"{k}={v}" for k, v in settings.items())
            raise ValueError(f"sweep point {index} ({described}): {error}") from None


POLICY_KNOBS = frozenset(knob for cls in POLICIES.values() for knob in cls.KNOBS)
# a policy reads its KNOBS and none of the other policies' knobs


def applicable_points(base: Scenario, points: list[dict]) -> tuple[list[dict], int]:
    """The points with knobs their policy does not read removed, each distinct point once.

    Static batching ignores max_num_seqs and max_num_batched_tokens, continuous and chunked
    ignore batch_size and max_wait_s: a grid crossing them would replay one point several
    times. Returns the kept points (grid order) and how many were skipped as duplicates.
    """
    kept, seen = [], set()
    for settings in points:
        policy = settings.get("policy", base.serving.policy)
        knobs = policy_class(policy).KNOBS
        point = {k: v for k, v in settings.items() if k not in POLICY_KNOBS or k in knobs}
        key = tuple(sorted((k, repr(v)) for k, v in point.items()))
        if key not in seen:
            seen.add(key)
            kept.append(point)
    return kept, len(points) - len(kept)


def run_point(task: SweepTask) -> dict:
    """Replay one point and return its row."""
    scenario, scale = point_scenario(task.base, task.settings)
    table = task.table
    if scale != 1.0:
        table = table.copy()
        table["arrival_s"] = table["arrival_s"] / scale
    run = run_scenario(scenario, table)
    serving = run.serving
    slots = serving.batch_size if serving.policy == "static" else serving.max_num_seqs
    return {"point": task.index, **task.settings, "slots": slots,
            "offered_rate_per_s": offered_rate_per_s(table), **flatten_summary(run.summary),
            "cost_model": describe_cost_model(run.cost_model),
            **range_columns(run.summary["extrapolation"])}


def range_columns(entry: dict) -> dict:
    """A row's measured-range columns: status, share of steps outside, the worst dimension."""
    return {"range_status": entry["status"], "extrapolated_share": entry["share_outside"],
            "extrapolation_worst_dimension": entry["worst_dimension"] or "",
            "extrapolation_worst_ratio": (float("nan") if entry["worst_ratio"] is None
                                          else entry["worst_ratio"])}


def offered_rate_per_s(table) -> float:
    """Requests over the arrival span (first to last arrival); NaN if they arrive at once."""
    arrival = table["arrival_s"]
    span_s = float(arrival.max() - arrival.min()) if len(table) else 0.0
    return len(table) / span_s if span_s > 0 else float("nan")


def flatten_summary(summary: dict) -> dict:
    """Scalar columns from a summary: percentile lists spread out, mappings as JSON."""
    row = {}
    for key, value in summary.items():
        if key.startswith("percentiles_") and isinstance(value, list):
            name = key.removeprefix("percentiles_")
            for percentile, number in value:
                row.setdefault(f"p{percentile:g}_{name}", number)
        elif isinstance(value, dict):
            row[key] = json.dumps(value, sort_keys=True)
        elif value is None:
            row[key] = float("nan")
        else:
            row[key] = value
    return row


def run_sweep(tasks: list[SweepTask], workers: int = 1, on_done=None,
              mp_context=None, partial: "PartialResults | None" = None) -> pd.DataFrame:
    """Run every task (in ``workers`` local processes when > 1) and return rows in point order.

    ``on_done(index)`` is called as each point finishes (progress bars); ``partial`` records
    each finished row as it comes.
    """
    if not tasks:
        return pd.DataFrame()
    rows: list[dict | None] = [None] * len(tasks)

    def finished(position: int, row: dict) -> None:
        rows[position] = row
        if partial is not None:
            partial.add(row)
        if on_done:
            on_done(tasks[position].index)

    if workers <= 1 or len(tasks) <= 1:
        for position, task in enumerate(tasks):
            finished(position, run_point(task))
        return results_frame(rows)
    pool = ProcessPoolExecutor(min(workers, len(tasks)), mp_context=mp_context,
                               initializer=ignore_sigint)
    try:
        futures = {pool.submit(run_point, task): position for position, task in enumerate(tasks)}
        for future in as_completed(futures):
            finished(futures[future], future.result())
    except BaseException:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()  # an interrupted sweep stops now; finished points are kept
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results_frame(rows)


def results_frame(rows: list[dict]) -> pd.DataFrame:
    """The results table, one row per point in point order."""
    frame = pd.DataFrame(rows).sort_values("point", kind="stable").reset_index(drop=True)
    for knob in POLICY_KNOBS & set(frame.columns):  # blank where the knob does not apply
        values = frame[knob].dropna()
        if frame[knob].isna().any() and len(values) and (values % 1 == 0).all() \
                and knob != "max_wait_s":
            frame[knob] = frame[knob].astype("Int64")
    return frame


def write_results(frame: pd.DataFrame, stem: str) -> list[str]:
    """Write ``stem``.csv and ``stem``.parquet atomically, as one set; return the paths."""
    paths = [f"{stem}.csv", f"{stem}.parquet"]
    with atomic_files(paths) as (csv_temp, parquet_temp):
        frame.to_csv(csv_temp, index=False, float_format="%.9g")
        frame.to_parquet(parquet_temp, index=False)
    return paths


def sweep_fingerprint(base: Scenario, points: list[dict], tables: list) -> str:
    """A digest of what a sweep computes: base scenario, points and each point's trace."""
    digest = hashlib.sha256(repr(base).encode())
    digest.update(dumps_json(points, sort_keys=True, default=str).encode())
    seen: set[int] = set()
    for table in tables:
        if id(table) not in seen:
            seen.add(id(table))
            digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


class PartialResults:
    """``STEM.partial.jsonl``: the finished rows of an unfinished sweep, one JSON line each."""

    def __init__(self, stem: str, fingerprint: str) -> None:
        self.path = Path(f"{stem}.partial.jsonl")
        self.fingerprint = fingerprint

    def resume(self) -> dict[int, dict]:
        """Rows already finished (by point index); a torn last line is dropped."""
        if not self.path.exists():
            raise InputError(f"{self.path}: no partial sweep to resume")
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        header = parse_json(lines[0], str(self.path)) if lines else None
        if not isinstance(header, dict) or header.get("fingerprint") != self.fingerprint:
            raise InputError(f"{self.path} line 1: from a different sweep (grid, settings or "
                             "trace changed); run without --resume to start again")
        rows: dict[int, dict] = {}
        for number, text in enumerate(lines[1:], start=2):
            try:
                row = parse_json(text, str(self.path))
            except InputError:
                if number == len(lines):
                    break  # the line being written when the sweep stopped
                raise
            rows[int(row["point"])] = {k: (float("nan") if v is None else v)
                                       for k, v in row.items()}
        return rows

    def start(self, kept: dict[int, dict]) -> None:
        """Begin the file afresh with the rows kept from an earlier run."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = dumps_json({"batchsim_sweep_partial": 1, "fingerprint": self.fingerprint})
        lines = [text] + [dumps_json(kept[i]) for i in sorted(kept)]
        self.path.write_text("\n".join(lines) + "\n")

    def add(self, row: dict) -> None:
        """Append one finished row (flushed at once)."""
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(dumps_json(row) + "\n")

    def finish(self) -> None:
        """The sweep completed: the partial file goes."""
        self.path.unlink(missing_ok=True)


def sweep_frame(base: Scenario, table, points: list[dict], workers: int = 1) -> pd.DataFrame:
    """Replay every point (dicts of settings, e.g. {"policy": "static", "batch_size": 8}) on
    ``table`` and return the results table, in point order."""
    check_points(base, points)
    tasks = [SweepTask(i, base, settings, table) for i, settings in enumerate(points)]
    return results_frame(run_sweep(tasks, workers))
