"""The canonical trace table every reader produces and the simulator replays.

One row per request: ``arrival_s`` (float64 seconds, >= 0, sorted ascending), ``prompt_tokens``
and ``output_tokens`` (int64 tokens, >= 1), ``request_id`` (int64 or str; 0..n-1 when the source
has none) and, optionally, ``prefix_block_ids`` (tuple of int per row: ids of the prompt's
prefix blocks, each ``prefix_block_tokens`` tokens long; equal ids mean a shared prefix).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from batchsim.atomic import atomic_file
from batchsim.inputs import quote
from batchsim.traces.errors import TraceError
from batchsim.traces.loaded import LoadedTrace  # noqa: F401 (re-exported: readers build it)
from batchsim.traces.rows import MAX_TOKENS, RowChecker, check_positive

# float64 seconds keep ~15 microseconds at 1e11 s; beyond it arrivals would merge silently
MAX_ABS_ARRIVAL_S = 1e11
REQUIRED_COLUMNS = ("arrival_s", "prompt_tokens", "output_tokens")
CANONICAL_COLUMNS = REQUIRED_COLUMNS + ("request_id", "prefix_block_ids")


def finish(raw: pd.DataFrame, *, checker: RowChecker, fields: dict[str, str], skip_bad: bool,
           notes: list[str], shift_to_zero: bool) -> pd.DataFrame:
    """Validate parsed columns, drop or raise on bad rows, sort, and number requests.

    ``raw`` holds the canonical columns already parsed (bad rows flagged in ``checker``);
    ``fields`` maps canonical names to the source's field names for error messages.
    """
    check_positive(raw["prompt_tokens"].to_numpy(), fields["prompt_tokens"], checker)
    check_positive(raw["output_tokens"].to_numpy(), fields["output_tokens"], checker)
    arrival = raw["arrival_s"].to_numpy(dtype=np.float64)
    far = np.abs(arrival) > MAX_ABS_ARRIVAL_S
    checker.flag(far, fields["arrival_s"], lambda i: f"{float(arrival[i]):g} s is out of range "
                 f"(|t| <= {MAX_ABS_ARRIVAL_S:g} s keeps 15-microsecond precision)")
    if not shift_to_zero:
        checker.flag(arrival < 0, fields["arrival_s"],
                     lambda i: f"{float(arrival[i])!r} is a negative arrival time")
    if "request_id" in raw.columns:
        _check_unique_ids(raw["request_id"], checker)
    keep = checker.resolve(skip_bad, notes)
    table = raw.loc[keep].reset_index(drop=True) if not keep.all() else raw.reset_index(drop=True)
    table["arrival_s"] = table["arrival_s"].astype(np.float64)
    if shift_to_zero and len(table):
        start_s = float(table["arrival_s"].min())
        if start_s != 0.0:
            table["arrival_s"] = table["arrival_s"] - start_s
            notes.append(f"arrivals shifted by {-start_s:g} s so the first request arrives at 0 s")
    return ordered_columns(sort_by_arrival(number_requests(table), notes))


def _check_unique_ids(ids: pd.Series, checker: RowChecker) -> None:
    """A request id may not be missing or repeat an earlier row's (the first one is kept)."""
    values = pd.Series(ids.to_numpy(dtype=object))
    missing = values.isna().to_numpy()
    checker.flag(missing, "request_id", lambda i: "missing value")
    text = values.astype(str)
    repeated = (text.duplicated() & ~values.isna()).to_numpy()
    checker.flag(repeated, "request_id", lambda i: f"{quote(text[i])} repeats an earlier "
                 "request_id")


def number_requests(table: pd.DataFrame) -> pd.DataFrame:
    """Fill ``request_id`` with 0..n-1 in source order when the source has no ids."""
    if "request_id" not in table.columns:
        table["request_id"] = np.arange(len(table), dtype=np.int64)
    return table


def sort_by_arrival(table: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Stable-sort rows by arrival when they are out of order, noting how many were."""
    arrival = table["arrival_s"].to_numpy()
    backwards = int(np.count_nonzero(arrival[1:] < arrival[:-1]))
    if backwards == 0:
        return table
    notes.append(f"sorted by arrival: {backwards} row{'s' if backwards != 1 else ''} arrived "
                 "earlier than the row before them")
    order = np.argsort(arrival, kind="stable")
    return table.iloc[order].reset_index(drop=True)


def ordered_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The canonical columns present, in canonical order; nothing else kept."""
    return table[[c for c in CANONICAL_COLUMNS if c in table.columns]]


def validate_table(table: pd.DataFrame, name: str = "table") -> None:
    """Raise TraceError unless ``table`` satisfies the canonical invariants."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise TraceError(f"{name}: missing column(s) {', '.join(missing)}")
    arrival = table["arrival_s"].to_numpy(dtype=np.float64)
    if len(arrival) and (not np.all(np.isfinite(arrival)) or arrival.min() < 0):
        raise TraceError(f"{name}: arrival_s must be finite and >= 0")
    if np.any(arrival[1:] < arrival[:-1]):
        raise TraceError(f"{name}: arrival_s must be sorted ascending")
    for column in ("prompt_tokens", "output_tokens"):
        if len(table) and not 1 <= int(table[column].min()) <= int(table[column].max()) < MAX_TOKENS:
            raise TraceError(f"{name}: {column} must be in 1..{MAX_TOKENS - 1}")


def write_canonical(table: pd.DataFrame, path: str | Path, *,
                    prefix_block_tokens: int | None = None) -> None:
    """Write a canonical table as CSV or Parquet (by suffix); prefix ids kept in both."""
    path = Path(path)
    validate_table(table, str(path))
    out = ordered_columns(table).copy()
    if "prefix_block_ids" in out.columns:
        if path.suffix.lower() == ".parquet":
            out["prefix_block_ids"] = [list(ids) for ids in out["prefix_block_ids"]]
        else:
            out["prefix_block_ids"] = [" ".join(map(str, ids)) for ids in out["prefix_block_ids"]]
        if prefix_block_tokens is not None:
            out["prefix_block_tokens"] = np.int64(prefix_block_tokens)
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise TraceError(f"{path}: output must end in .csv or .parquet")
    with atomic_file(path) as temp:  # complete or absent, never a truncated trace
        if path.suffix.lower() == ".parquet":
            out.to_parquet(temp, index=False)
        else:
            out.to_csv(temp, index=False)
