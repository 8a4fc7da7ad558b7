"""Canonical CSV or Parquet: ``arrival_s,prompt_tokens,output_tokens[,request_id]`` and
optionally ``prefix_block_ids`` (space-separated ids in CSV, a list in Parquet) with
``prefix_block_tokens``. Arrivals are taken as written (seconds, must be >= 0).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from batchsim.inputs import quote
from batchsim.traces.canonical import REQUIRED_COLUMNS, LoadedTrace, finish
from batchsim.traces.errors import TraceError
from batchsim.traces.readers.csvio import iter_chunks, read_header
from batchsim.traces.rows import RowChecker, parse_float, parse_int

OPTIONAL = ["request_id", "prefix_block_ids", "prefix_block_tokens"]
FIELDS = {name: name for name in REQUIRED_COLUMNS}
_IDS = re.compile(r"^\s*-?\d+(\s+-?\d+)*\s*$")


def read_canonical(path: str | Path, *, skip_bad: bool = False) -> LoadedTrace:
    """Read a canonical CSV or Parquet trace (what ``batchsim trace convert`` writes)."""
    path = Path(path)
    notes: list[str] = []
    if path.suffix.lower() == ".parquet":
        frame = _read_parquet(path)
        checker = RowChecker(path.name, np.arange(1, len(frame) + 1), unit="row")
        table = _parse(frame, checker)
    else:
        columns = list(REQUIRED_COLUMNS) + [c for c in OPTIONAL if c in read_header(path)]
        dtype = {c: str for c in ("request_id", "prefix_block_ids") if c in columns}
        parts, checkers = [], []
        for chunk, lines in iter_chunks(path, columns, skip_bad=skip_bad, notes=notes, dtype=dtype):
            checkers.append(RowChecker(path.name, lines))
            parts.append(_parse(chunk, checkers[-1]))
        table = pd.concat(parts, ignore_index=True)
        checker = RowChecker.combine(path.name, checkers)
    block_tokens = _block_tokens(table, path)
    table = finish(table, checker=checker, fields=FIELDS, skip_bad=skip_bad, notes=notes,
                   shift_to_zero=False)
    if "request_id" in table.columns:
        table["request_id"] = _ids_as_int_when_possible(table["request_id"])
    return LoadedTrace(table, f"canonical {path.suffix.lstrip('.').upper()} {path}",
                       "canonical", block_tokens, notes)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises many types for a damaged file
        raise TraceError(f"{path.name}: not a readable Parquet file ({error})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise TraceError(f"{path.name}: missing column(s) {', '.join(missing)}")
    return frame


def _parse(frame: pd.DataFrame, checker: RowChecker) -> pd.DataFrame:
    table = pd.DataFrame({
        "arrival_s": parse_float(frame["arrival_s"], "arrival_s", checker),
        "prompt_tokens": parse_int(frame["prompt_tokens"], "prompt_tokens", checker),
        "output_tokens": parse_int(frame["output_tokens"], "output_tokens", checker),
    })
    if "request_id" in frame.columns:
        table["request_id"] = frame["request_id"].to_numpy(dtype=object)
    if "prefix_block_ids" in frame.columns:
        table["prefix_block_ids"] = _parse_ids(frame["prefix_block_ids"], checker)
    if "prefix_block_tokens" in frame.columns:
        table["prefix_block_tokens"] = frame["prefix_block_tokens"].to_numpy()
    return table


def _parse_ids(values: pd.Series, checker: RowChecker) -> pd.Series:
    """Space-separated ids (CSV) or int sequences (Parquet) as tuples; blank means none."""
    raw = values.to_numpy(dtype=object)
    ids, bad = [], np.zeros(len(raw), dtype=bool)
    for i, value in enumerate(raw):
        if isinstance(value, str):
            bad[i] = not (_IDS.match(value) or not value.strip())
            ids.append(() if bad[i] else tuple(int(x) for x in value.split()))
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            ids.append(())
        else:
            items = list(value) if hasattr(value, "__iter__") else [value]
            bad[i] = not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool)
                             for x in items)
            ids.append(() if bad[i] else tuple(int(x) for x in items))
    checker.flag(bad, "prefix_block_ids", lambda i: f"{quote(raw[i])} is not a list of integers")
    return pd.Series(ids, dtype=object)


def _block_tokens(table: pd.DataFrame, path: Path) -> int | None:
    if "prefix_block_tokens" not in table.columns:
        return None
    sizes = pd.unique(table.pop("prefix_block_tokens").dropna())
    if len(sizes) != 1 or float(sizes[0]) != int(sizes[0]) or int(sizes[0]) < 1:
        raise TraceError(f"{path.name}, column prefix_block_tokens: needs one positive value "
                         f"for the whole file, found {list(sizes)[:5]}")
    return int(sizes[0])


def _ids_as_int_when_possible(ids: pd.Series) -> pd.Series:
    text = ids.astype(str)
    if text.str.fullmatch(r"-?\d+").all():
        return text.astype(np.int64)
    return text.astype(object)
