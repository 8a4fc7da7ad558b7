"""Chunked CSV reading that keeps exact source line numbers for error messages.

Rows are read in chunks of ``CHUNK_ROWS`` so that the raw text columns of a production-size file
(tens of millions of rows) never sit in memory at once; readers convert each chunk to compact
numeric columns. Ragged rows (wrong field count) fail with their line, or are skipped and
counted under ``skip_bad``; blank rows are skipped and counted.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from batchsim.traces.errors import TraceError
from batchsim.traces.readers.header import read_header, require_columns

CHUNK_ROWS = 1_000_000
_RAGGED = re.compile(r"line (\d+)")


def iter_chunks(path: Path, columns: list[str], *, skip_bad: bool, notes: list[str],
                dtype: dict | None = None) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield (chunk of ``columns``, source line number of each row) over the whole file."""
    header = read_header(path)
    require_columns(path, header, columns)
    ragged: list[int] = []
    blank = 0
    rows_seen = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # no usecols: with it pandas accepts rows with extra fields without a word
            reader = pd.read_csv(path, chunksize=CHUNK_ROWS, dtype=dtype,
                                 skip_blank_lines=False, skipinitialspace=True,
                                 on_bad_lines="warn" if skip_bad else "error")
            for chunk in reader:
                ragged.extend(_ragged_lines(caught))
                chunk = chunk[columns]
                lines = _line_numbers(rows_seen, len(chunk), ragged)
                rows_seen += len(chunk)
                empty = chunk.isna().all(axis=1).to_numpy()
                if empty.any():
                    blank += int(empty.sum())
                    chunk, lines = chunk.loc[~empty], lines[~empty]
                yield chunk, lines
        except pd.errors.ParserError as error:
            raise TraceError(f"{path.name}: {_parser_message(error)}") from None
        except UnicodeDecodeError as error:
            raise TraceError(f"{path.name}: not UTF-8 text ({error.reason})") from None
    if ragged:
        notes.append(f"skipped {len(ragged)} malformed row{'s' if len(ragged) != 1 else ''} "
                     f"with the wrong number of fields (first: {path.name} line {ragged[0]})")
    if blank:
        notes.append(f"skipped {blank} blank row{'s' if blank != 1 else ''}")


def _ragged_lines(caught: list) -> list[int]:
    found = []
    for warning in caught:
        for match in _RAGGED.finditer(str(warning.message)):
            found.append(int(match.group(1)))
    caught.clear()
    return found


def _line_numbers(first_row: int, count: int, skipped_lines: list[int]) -> np.ndarray:
    """Source line of each data row: header is line 1; skipped ragged lines take no row."""
    lines = np.arange(first_row, first_row + count, dtype=np.int64) + 2
    for skipped in sorted(skipped_lines):
        lines[lines >= skipped] += 1
    return lines


def _parser_message(error: Exception) -> str:
    text = str(error).strip().splitlines()[-1]
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if match:
        expected, line, saw = match.groups()
        return f"line {line}: expected {expected} fields, saw {saw}"
    return text
