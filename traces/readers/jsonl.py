"""JSON Lines read into columns, one JSON object per non-blank line."""
from __future__ import annotations

import json
from pathlib import Path

from batchsim.traces.errors import TraceError


def read_jsonl_columns(path: Path, keys: tuple[str, ...]):
    """Parse each non-blank line of ``path``: (columns of ``keys``, None where absent; line
    numbers; blank line count; (row, message) for lines that are not JSON objects)."""
    columns: dict[str, list] = {k: [] for k in keys}
    lines: list[int] = []
    not_json: list[tuple[int, str]] = []
    blank = 0
    try:
        with open(path, encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    blank += 1
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as error:
                    record = None
                    not_json.append((len(lines), f"not valid JSON ({error.msg})"))
                if record is not None and not isinstance(record, dict):
                    not_json.append((len(lines), "not a JSON object"))
                    record = None
                record = record or {}
                for key, values in columns.items():
                    values.append(record.get(key))
                lines.append(number)
    except UnicodeDecodeError as error:
        raise TraceError(f"{path.name}: not UTF-8 text ({error.reason})") from None
    return columns, lines, blank, not_json
