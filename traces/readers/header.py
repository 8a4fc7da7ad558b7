"""A CSV file's header line, read without pandas (format detection runs before any reader)."""
from __future__ import annotations

from pathlib import Path

from batchsim.traces.errors import TraceError


def read_header(path: Path) -> list[str]:
    """Column names of a CSV file's first line (stripped)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        first = handle.readline()
    return [name.strip().strip('"') for name in first.rstrip("\r\n").split(",")]


def require_columns(path: Path, header: list[str], needed: list[str]) -> None:
    """Raise naming the missing columns and the ones found."""
    missing = [name for name in needed if name not in header]
    if missing:
        raise TraceError(f"{path.name} line 1: missing column(s) {', '.join(missing)} "
                         f"(found: {', '.join(header)})")
