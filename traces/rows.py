"""Vectorized row checks for trace readers that name the first bad row.

Readers parse whole columns at once; a `RowChecker` collects a boolean mask of bad rows and
remembers the earliest problem (by source line or record number) so that the error, or the
`--skip-bad` note, names it exactly: ``trace.csv line 17, column ContextTokens: 'abc' is not an
integer``. Token counts are integers (tokens); times are floats (seconds).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from batchsim.inputs import quote
from batchsim.traces.errors import TraceError

# Token counts beyond this are not real requests (float64 is exact far above it); the limit keeps
# int64 sums of tokens exact and rejects 2**63 before it could wrap to a negative number.
MAX_TOKENS = 1 << 31
_NS_FIRST = pd.Timestamp("1677-09-22")
_NS_LAST = pd.Timestamp("2262-04-11")


class RowChecker:
    """Accumulates bad rows of one table; ``resolve`` raises or drops and counts them."""

    def __init__(self, source: str, lines: np.ndarray, *, unit: str = "line",
                 field_word: str = "column") -> None:
        self.source = source
        self.lines = np.asarray(lines, dtype=np.int64)
        self.unit = unit
        self.field_word = field_word
        self.bad = np.zeros(len(self.lines), dtype=bool)
        self._first: tuple[int, str] | None = None

    def flag(self, bad: np.ndarray, field: str, describe: Callable[[int], str]) -> None:
        """Mark rows where ``bad`` holds; ``describe(i)`` words the problem of row i."""
        bad = np.asarray(bad, dtype=bool)
        if not bad.any():
            return
        self.bad |= bad
        i = int(np.flatnonzero(bad)[0])
        line = int(self.lines[i])
        if self._first is None or line < self._first[0]:
            where = f"{self.unit} {line}, {self.field_word} {field}" if field else f"{self.unit} {line}"
            self._first = (line, f"{where}: {describe(i)}")

    @classmethod
    def combine(cls, source: str, parts: list["RowChecker"]) -> "RowChecker":
        """One checker over consecutive parts (chunks), keeping the earliest problem."""
        lines = [p.lines for p in parts] or [np.zeros(0, dtype=np.int64)]
        merged = cls(source, np.concatenate(lines))
        if parts:
            merged.unit, merged.field_word = parts[0].unit, parts[0].field_word
            merged.bad = np.concatenate([p.bad for p in parts])
            firsts = [p._first for p in parts if p._first is not None]
            merged._first = min(firsts) if firsts else None
        return merged

    def subset(self, keep: np.ndarray) -> "RowChecker":
        """The checker restricted to kept rows (only rows not yet flagged may be removed)."""
        if (self.bad & ~keep).any():
            raise ValueError("cannot remove flagged rows from a RowChecker")
        part = RowChecker(self.source, self.lines[keep], unit=self.unit,
                          field_word=self.field_word)
        part.bad, part._first = self.bad[keep], self._first
        return part

    def first_problem(self) -> str | None:
        """The earliest problem found, as '<source> line N, column C: ...', or None."""
        return None if self._first is None else f"{self.source} {self._first[1]}"

    def resolve(self, skip_bad: bool, notes: list[str]) -> np.ndarray:
        """Raise on the first bad row, or (skip_bad) note the count; return the keep mask."""
        if not self.bad.any():
            return ~self.bad
        if not skip_bad:
            raise TraceError(self.first_problem())
        count = int(self.bad.sum())
        notes.append(f"skipped {count} malformed row{'s' if count != 1 else ''} "
                     f"(first: {self.first_problem()})")
        return ~self.bad


def _is_bool(raw: np.ndarray) -> np.ndarray:
    return np.fromiter((isinstance(v, (bool, np.bool_)) for v in raw), dtype=bool, count=raw.size)


def _show(value) -> str:
    if value is None or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return "missing value"
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    return quote(value)


def parse_int(values: pd.Series, field: str, checker: RowChecker) -> np.ndarray:
    """Integer column as int64; non-integers and missing values are flagged (filled with 1)."""
    if pd.api.types.is_signed_integer_dtype(values.dtype) and not values.hasnans:
        exact = values.to_numpy(dtype=np.int64)
        if not exact.size or np.abs(exact).max() < MAX_TOKENS:
            return exact
    raw = values.to_numpy(dtype=object) if not pd.api.types.is_float_dtype(values.dtype) else None
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
        huge = ~bad & (np.abs(numbers) >= MAX_TOKENS)
    bad |= huge
    if raw is not None:  # JSON booleans coerce to 0/1; only real numerals count
        bad |= _is_bool(raw)

    def describe(i: int) -> str:
        value = raw[i] if raw is not None else numbers[i]
        if _show(value) == "missing value":
            return "missing value"
        if huge[i]:
            return f"{_show(value)} is out of range (at most {MAX_TOKENS - 1:,})"
        return f"{_show(value)} is not an integer"

    checker.flag(bad, field, describe)
    return np.where(bad, 1, numbers).astype(np.int64)


def parse_float(values: pd.Series, field: str, checker: RowChecker) -> np.ndarray:
    """Finite float column; non-numbers and missing values are flagged (filled with 0.0)."""
    raw = values.to_numpy(dtype=object)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(numbers) | _is_bool(raw)

    def describe(i: int) -> str:
        text = _show(raw[i])
        return text if text == "missing value" else f"{text} is not a finite number"

    checker.flag(bad, field, describe)
    return np.where(bad, 0.0, numbers)


def parse_datetime_ns(values: pd.Series, field: str, checker: RowChecker) -> np.ndarray:
    """ISO-8601 date-times as int64 ns since the epoch (zoned ones in UTC); bad ones flagged."""
    try:
        stamps = pd.to_datetime(values, format="ISO8601", errors="coerce")
    except (ValueError, TypeError):  # zoned and naive times mixed: read all as UTC
        stamps = pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    missing = stamps.isna().to_numpy()
    outside = ~missing & ((stamps < _NS_FIRST) | (stamps > _NS_LAST)).to_numpy()
    bad = missing | outside
    if bad.any():
        raw = values.to_numpy(dtype=object)
        checker.flag(bad, field, lambda i: "missing value" if not isinstance(raw[i], str)
                     else f"{quote(raw[i])} is out of range (years 1678-2262)" if outside[i]
                     else f"{quote(raw[i])} is not a date-time")
        stamps = stamps.mask(pd.Series(bad, index=stamps.index), pd.Timestamp(0))
    return stamps.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").view(np.int64)


def check_positive(values: np.ndarray, field: str, checker: RowChecker) -> None:
    """Token counts must be >= 1; zero and negative counts are flagged with the row."""
    values = np.asarray(values)
    bad = values < 1
    checker.flag(bad, field, lambda i: f"{int(values[i])} is not a positive token count")
