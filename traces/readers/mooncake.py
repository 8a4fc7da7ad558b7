"""Mooncake / Qwen-style JSONL: one request per line,
``{"timestamp": ms, "input_length": tokens, "output_length": tokens, "hash_ids": [...]}``.

Each hash id names one prefix block of ``BLOCK_TOKENS`` (512) tokens; equal ids are shared
prefixes, kept as ``prefix_block_ids`` tuples for prefix-caching studies.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from batchsim.traces.canonical import LoadedTrace, finish
from batchsim.traces.errors import TraceError
from batchsim.traces.rows import RowChecker, parse_float, parse_int

BLOCK_TOKENS = 512
FIELDS = {"arrival_s": "timestamp", "prompt_tokens": "input_length",
          "output_tokens": "output_length"}


def read_mooncake(path: str | Path, *, skip_bad: bool = False) -> LoadedTrace:
    """Read a Mooncake-style JSONL trace (timestamps in ms) into canonical form."""
    path = Path(path)
    columns, lines, blank, not_json = _read_records(path)
    checker = RowChecker(path.name, np.asarray(lines, dtype=np.int64), field_word="field")
    if not_json:
        messages = dict(not_json)
        unreadable = np.zeros(len(lines), dtype=bool)
        unreadable[list(messages)] = True
        checker.flag(unreadable, "", lambda i: messages[i])
    table = pd.DataFrame({
        "arrival_s": parse_float(pd.Series(columns["timestamp"], dtype=object), "timestamp",
                                 checker) / 1000.0,
        "prompt_tokens": parse_int(pd.Series(columns["input_length"], dtype=object),
                                   "input_length", checker),
        "output_tokens": parse_int(pd.Series(columns["output_length"], dtype=object),
                                   "output_length", checker),
    })
    block_tokens = None
    hash_ids = columns["hash_ids"]
    if any(ids is not None for ids in hash_ids):
        block_tokens = BLOCK_TOKENS
        bad = np.array([not _is_id_list(ids) for ids in hash_ids], dtype=bool)
        checker.flag(bad, "hash_ids", lambda i: "missing value" if hash_ids[i] is None
                     else "not a list of integers")
        table["prefix_block_ids"] = pd.Series(
            [tuple(ids) if not b else () for ids, b in zip(hash_ids, bad)], dtype=object)
    notes: list[str] = [f"skipped {blank} blank lines"] if blank else []
    table = finish(table, checker=checker, fields=FIELDS, skip_bad=skip_bad, notes=notes,
                   shift_to_zero=True)
    return LoadedTrace(table, f"Mooncake JSONL {path}", "mooncake", block_tokens, notes)


def _read_records(path: Path):
    """Parse each non-blank line; returns columns, line numbers, blank count, JSON failures."""
    columns: dict[str, list] = {k: [] for k in ("timestamp", "input_length", "output_length",
                                                "hash_ids")}
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


def _is_id_list(ids) -> bool:
    return isinstance(ids, list) and all(type(x) is int for x in ids)
