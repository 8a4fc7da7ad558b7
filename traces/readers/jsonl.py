"""JSON Lines read into columns, one JSON object per non-blank line."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from batchsim.traces.errors import TraceError
from batchsim.traces.rows import RowChecker


def read_jsonl_columns(path: Path, keys: tuple[str, ...]):
    """Parse each non-blank line of ``path``: (columns of ``keys``, None where absent; line
    numbers; blank line count; (row, message) for lines that are not JSON objects)."""
    columns: dict[str, list] = {k: [] for k in keys}
    lines: list[int] = []
    not_json: list[tuple[int, str]] = []
    blank = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8").removeprefix("\ufeff")
            except UnicodeDecodeError as error:
                raise TraceError(f"{path.name} line {number}: not UTF-8 text "
                                 f"({error.reason})") from None
            if not text.strip():
                blank += 1
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                record = None
                not_json.append((len(lines), f"not valid JSON ({error.msg})"))
            except RecursionError:
                record = None
                not_json.append((len(lines), "JSON nested too deeply"))
            if record is not None and not isinstance(record, dict):
                not_json.append((len(lines), "not a JSON object"))
                record = None
            record = record or {}
            for key, values in columns.items():
                values.append(record.get(key))
            lines.append(number)
    return columns, lines, blank, not_json


def record_checker(path: Path, lines: list[int], not_json: list[tuple[int, str]]) -> RowChecker:
    """A row checker over the records, with the lines that held no JSON object flagged."""
    checker = RowChecker(path.name, np.asarray(lines, dtype=np.int64), field_word="field")
    if not_json:
        messages = dict(not_json)
        unreadable = np.zeros(len(lines), dtype=bool)
        unreadable[list(messages)] = True
        checker.flag(unreadable, "", lambda i: messages[i])
    return checker


def flag_id_lists(values: list, field: str, checker: RowChecker) -> np.ndarray:
    """Flag values that are not lists of integers; returns the bad-row mask."""
    bad = np.array([not (isinstance(v, list) and all(type(x) is int for x in v))
                    for v in values], dtype=bool)
    checker.flag(bad, field, lambda i: "missing value" if values[i] is None
                 else "not a list of integers")
    return bad
