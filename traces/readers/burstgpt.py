"""BurstGPT CSV: columns found by name (``Timestamp`` in seconds, ``Model``, ``Request tokens``,
``Response tokens``); later releases add ``Session ID`` and ``Elapsed time``, so never by position.

Rows with zero response tokens are failed requests: dropped and counted.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from batchsim.traces.canonical import LoadedTrace, finish
from batchsim.traces.errors import TraceError
from batchsim.traces.readers.csvio import iter_chunks
from batchsim.traces.rows import RowChecker, parse_float, parse_int

COLUMNS = ["Timestamp", "Model", "Request tokens", "Response tokens"]
FIELDS = {"arrival_s": "Timestamp", "prompt_tokens": "Request tokens",
          "output_tokens": "Response tokens"}


def read_burstgpt(path: str | Path, *, skip_bad: bool = False,
                  model: str | None = None) -> LoadedTrace:
    """Read a BurstGPT CSV; ``model`` keeps only that model's rows (exact name)."""
    path = Path(path)
    notes: list[str] = []
    parts, checkers, models_seen = [], [], set()
    other_model = failed = 0
    for chunk, lines in iter_chunks(path, COLUMNS, skip_bad=skip_bad, notes=notes,
                                    dtype={"Model": str}):
        if model is not None:
            models_seen.update(chunk["Model"].dropna().unique().tolist())
            mine = (chunk["Model"] == model).to_numpy()
            other_model += int((~mine).sum())
            chunk, lines = chunk.loc[mine], lines[mine]
        zero = (pd.to_numeric(chunk["Response tokens"], errors="coerce") == 0).to_numpy()
        failed += int(zero.sum())
        chunk, lines = chunk.loc[~zero], lines[~zero]
        checker = RowChecker(path.name, lines)
        parts.append(pd.DataFrame({
            "arrival_s": parse_float(chunk["Timestamp"], "Timestamp", checker),
            "prompt_tokens": parse_int(chunk["Request tokens"], "Request tokens", checker),
            "output_tokens": parse_int(chunk["Response tokens"], "Response tokens", checker),
        }))
        checkers.append(checker)
    if model is not None:
        if not any(len(p) for p in parts) and failed == 0:
            raise TraceError(f"{path.name}: no rows with Model {model!r} "
                             f"(models present: {', '.join(sorted(models_seen)) or 'none'})")
        notes.append(f"kept only Model {model!r}: dropped {other_model} rows of other models")
    if failed:
        notes.append(f"dropped {failed} BurstGPT row{'s' if failed != 1 else ''} with zero "
                     "response tokens (failed requests)")
    table = pd.concat(parts, ignore_index=True)
    table = finish(table, checker=RowChecker.combine(path.name, checkers), fields=FIELDS,
                   skip_bad=skip_bad, notes=notes, shift_to_zero=True)
    return LoadedTrace(table, f"BurstGPT CSV {path}", "burstgpt", None, notes)
