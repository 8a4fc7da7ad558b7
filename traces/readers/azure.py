"""Azure LLM inference traces (2023 and 2024 releases): ``TIMESTAMP,ContextTokens,GeneratedTokens``.

2023 timestamps look like ``2023-11-16 18:15:46.6805900`` (7 fractional digits, no zone); 2024
ones are UTC with ``+00:00`` and mixed precision. Arrival = seconds since the earliest request.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from batchsim.traces.canonical import LoadedTrace, finish
from batchsim.traces.readers.csvio import iter_chunks
from batchsim.traces.rows import RowChecker, parse_datetime_ns, parse_int

COLUMNS = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]
FIELDS = {"arrival_s": "TIMESTAMP", "prompt_tokens": "ContextTokens",
          "output_tokens": "GeneratedTokens"}


def read_azure(path: str | Path, *, skip_bad: bool = False) -> LoadedTrace:
    """Read an Azure LLM inference trace CSV into canonical form."""
    path = Path(path)
    notes: list[str] = []
    parts, checkers = [], []
    for chunk, lines in iter_chunks(path, COLUMNS, skip_bad=skip_bad, notes=notes,
                                    dtype={"TIMESTAMP": str}):
        checker = RowChecker(path.name, lines)
        parts.append(pd.DataFrame({
            "stamp_ns": parse_datetime_ns(chunk["TIMESTAMP"], "TIMESTAMP", checker),
            "prompt_tokens": parse_int(chunk["ContextTokens"], "ContextTokens", checker),
            "output_tokens": parse_int(chunk["GeneratedTokens"], "GeneratedTokens", checker),
        }))
        checkers.append(checker)
    empty = {"stamp_ns": [], "prompt_tokens": [], "output_tokens": []}
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(empty, dtype=np.int64)
    checker = RowChecker.combine(path.name, checkers)
    stamp_ns = table.pop("stamp_ns").to_numpy()
    valid = stamp_ns[~checker.bad]
    origin_ns = int(valid.min()) if valid.size else 0
    # subtract in integers first so that 7-digit fractions survive the move to float seconds
    table.insert(0, "arrival_s", (stamp_ns - origin_ns) / 1e9)
    table = finish(table, checker=checker, fields=FIELDS, skip_bad=skip_bad, notes=notes,
                   shift_to_zero=True)
    return LoadedTrace(table, f"Azure LLM inference CSV {path}", "azure", None, notes)
