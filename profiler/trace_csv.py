"""Canonical trace CSV for replay: ``arrival_s,prompt_tokens,output_tokens[,request_id]``.

Arrival times are seconds from the trace start, non-decreasing; token counts are positive integers.
Read with the csv module only; every error names the file, the line and the field.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

REQUIRED_COLUMNS = ("arrival_s", "prompt_tokens", "output_tokens")


@dataclass(frozen=True, slots=True)
class TraceRow:
    """One request of a trace: when it arrives and how many tokens it reads and writes."""

    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    request_id: str = ""


def _parse_int(text: str, where: str, field: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{where}: {field} '{text}' is not an integer") from None
    if value <= 0:
        raise ValueError(f"{where}: {field} must be positive, got {value}")
    return value


def _parse_row(record: dict, where: str, previous_arrival_s: float) -> TraceRow:
    text = (record.get("arrival_s") or "").strip()
    try:
        arrival_s = float(text)
    except ValueError:
        raise ValueError(f"{where}: arrival_s '{text}' is not a number") from None
    if not math.isfinite(arrival_s) or arrival_s < 0:
        raise ValueError(f"{where}: arrival_s must be a finite non-negative number, got {text}")
    if arrival_s < previous_arrival_s:
        raise ValueError(f"{where}: arrival_s {arrival_s} is before the previous row's "
                         f"{previous_arrival_s} (trace must be sorted by arrival)")
    return TraceRow(
        arrival_s=arrival_s,
        prompt_tokens=_parse_int((record.get("prompt_tokens") or "").strip(), where, "prompt_tokens"),
        output_tokens=_parse_int((record.get("output_tokens") or "").strip(), where, "output_tokens"),
        request_id=(record.get("request_id") or "").strip(),
    )


def read_trace_csv(path: str | Path) -> list[TraceRow]:
    """Load a canonical trace CSV; raise ValueError naming file, line and field on bad input."""
    path = Path(path)
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"{path}: header lacks column(s) {', '.join(missing)}")
        rows: list[TraceRow] = []
        previous_arrival_s = 0.0
        for record in reader:
            row = _parse_row(record, f"{path} line {reader.line_num}", previous_arrival_s)
            previous_arrival_s = row.arrival_s
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: trace has no requests")
    return rows


def write_trace_csv(path: str | Path, rows: list[TraceRow]) -> None:
    """Write rows in the canonical format (arrival to microseconds)."""
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*REQUIRED_COLUMNS, "request_id"])
        for row in rows:
            writer.writerow([f"{row.arrival_s:.6f}", row.prompt_tokens, row.output_tokens,
                             row.request_id])
