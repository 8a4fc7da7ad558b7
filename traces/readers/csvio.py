"""Chunked CSV reading that keeps exact source line numbers for error messages.

Rows are read in chunks of ``CHUNK_ROWS`` so that the raw text columns of a production-size file
(tens of millions of rows) never sit in memory at once; readers convert each chunk to compact
numeric columns. Before pandas sees the file, every line's field count is checked against the
header (a fast byte scan; the csv module when fields are quoted): a row with too few or too many
fields fails with its line, or is skipped and counted under ``skip_bad``. pandas never takes a
column as the index, so a ragged row can never shift the columns. Blank rows are skipped and
counted.
"""
from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from batchsim.inputs import check_regular_file, quote
from batchsim.limits import DEFAULT_LIMITS, Limits
from batchsim.traces.errors import TraceError
from batchsim.traces.readers.header import read_header, require_columns  # noqa: F401 (re-exported)

CHUNK_ROWS = 1_000_000
SCAN_BYTES = 1 << 26


def ragged_lines(path: Path, fields: int) -> list[tuple[int, int]]:
    """(line, field count) of each non-blank data line whose field count is not ``fields``."""
    found: list[tuple[int, int]] = []
    line_base, carry = 1, b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(SCAN_BYTES)
            data = carry + block
            if not block:
                if data:
                    data += b"\n"
                else:
                    break
            if b'"' in data:  # quoted fields may hold commas and newlines
                return _ragged_quoted(path, fields)
            cut = data.rfind(b"\n") + 1
            carry, data = data[cut:], data[:cut]
            found += _ragged_block(data, fields, line_base)
            line_base += data.count(b"\n")
            if not block:
                break
    return [(line, count) for line, count in found if line > 1]


def _ragged_block(data: bytes, fields: int, line_base: int) -> list[tuple[int, int]]:
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    commas = np.flatnonzero(buf == 44)
    counts = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    length = ends - starts
    blank = (length == 0) | ((length == 1) & (buf[np.maximum(ends - 1, 0)] == 13))
    bad = np.flatnonzero((counts != fields) & ~blank)
    return [(int(i) + line_base, int(counts[i])) for i in bad]


def _ragged_quoted(path: Path, fields: int) -> list[tuple[int, int]]:
    found = []
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        for row in reader:
            if reader.line_num > 1 and row and len(row) != fields:
                found.append((reader.line_num, len(row)))
    return found


def iter_chunks(path: Path, columns: list[str], *, skip_bad: bool, notes: list[str],
                dtype: dict | None = None,
                limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield (chunk of ``columns``, source line number of each row) over the whole file."""
    header = read_header(path, limits)
    require_columns(path, header, columns)
    ragged = ragged_lines(path, len(header))
    if ragged and not skip_bad:
        line, count = ragged[0]
        raise TraceError(f"{path.name} line {line}: expected {len(header)} fields, saw {count}")
    skipped = [line for line, _ in ragged]
    blank = 0
    rows_seen = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.ParserWarning)
        try:
            reader = pd.read_csv(path, chunksize=CHUNK_ROWS, dtype=dtype, index_col=False,
                                 skiprows=set(line - 1 for line in skipped) or None,
                                 skip_blank_lines=False, skipinitialspace=True,
                                 encoding="utf-8-sig", on_bad_lines="error")
            for chunk in reader:
                chunk.columns = header
                chunk = chunk[columns]
                lines = _line_numbers(rows_seen, len(chunk), skipped)
                rows_seen += len(chunk)
                empty = chunk.isna().all(axis=1).to_numpy()
                if empty.any():
                    blank += int(empty.sum())
                    chunk, lines = chunk.loc[~empty], lines[~empty]
                yield chunk, lines
        except pd.errors.EmptyDataError:
            return
        except pd.errors.ParserError as error:
            raise TraceError(f"{path.name}: {_parser_message(error)}") from None
        except UnicodeDecodeError as error:
            raise TraceError(f"{path.name}: not UTF-8 text ({error.reason})") from None
    if skipped:
        notes.append(f"skipped {len(skipped)} malformed row{'s' if len(skipped) != 1 else ''} "
                     f"with the wrong number of fields (first: {path.name} line {skipped[0]})")
    if blank:
        notes.append(f"skipped {blank} blank row{'s' if blank != 1 else ''}")


def _line_numbers(first_row: int, count: int, skipped_lines: list[int]) -> np.ndarray:
    """Source line of each data row: header is line 1; skipped ragged lines take no row."""
    base = np.arange(first_row, first_row + count, dtype=np.int64) + 2
    skipped = np.asarray(sorted(skipped_lines), dtype=np.int64)
    lines = base
    while True:  # each row moves past the skipped lines at or before it
        moved = base + np.searchsorted(skipped, lines, side="right")
        if np.array_equal(moved, lines):
            return lines
        lines = moved


def _parser_message(error: Exception) -> str:
    text = str(error).strip().splitlines()[-1]
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if match:
        expected, line, saw = match.groups()
        return f"line {line}: expected {expected} fields, saw {saw}"
    return text[:200]
