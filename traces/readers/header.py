"""A CSV file's header line, read without pandas (format detection runs before any reader)."""
from __future__ import annotations

import csv
from pathlib import Path

from batchsim.inputs import check_regular_file, quote
from batchsim.limits import DEFAULT_LIMITS, Limits
from batchsim.traces.errors import TraceError

HEADER_BYTES = 1 << 20


def read_header(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Column names of a CSV file's first line (stripped; a byte-order mark dropped)."""
    path = check_regular_file(path, "trace file")
    with open(path, "rb") as handle:
        first = handle.readline(HEADER_BYTES)
    if len(first) >= HEADER_BYTES and not first.endswith(b"\n"):
        raise TraceError(f"{path.name} line 1: header longer than {HEADER_BYTES:,} bytes")
    try:
        text = first.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise TraceError(f"{path.name} line 1: not UTF-8 text ({error.reason})") from None
    names = next(csv.reader([text.rstrip("\r\n")]), [])
    names = [name.strip() for name in names]
    limits.check("columns", len(names), f"{path.name} line 1: columns")
    return names


def require_columns(path: Path, header: list[str], needed: list[str]) -> None:
    """Raise naming the missing or repeated columns and the ones found."""
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise TraceError(f"{path.name} line 1: column {quote(name)} appears twice")
        seen.add(name)
    missing = [name for name in needed if name not in header]
    if missing:
        found = ", ".join(quote(h, 30) for h in header[:12])
        raise TraceError(f"{path.name} line 1: missing column(s) {', '.join(missing)} "
                         f"(found: {found}{', ...' if len(header) > 12 else ''})")
