"""Mooncake / Qwen-style JSONL: one request per line,
``{"timestamp": ms, "input_length": tokens, "output_length": tokens, "hash_ids": [...]}``.

Each hash id names one prefix block of ``BLOCK_TOKENS`` (512) tokens; equal ids are shared
prefixes, kept as ``prefix_block_ids`` tuples for prefix-caching studies.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from batchsim.traces.canonical import LoadedTrace, finish
from batchsim.traces.readers.jsonl import flag_id_lists, read_jsonl_columns, record_checker
from batchsim.traces.rows import parse_float, parse_int

BLOCK_TOKENS = 512
FIELDS = {"arrival_s": "timestamp", "prompt_tokens": "input_length",
          "output_tokens": "output_length"}


def read_mooncake(path: str | Path, *, skip_bad: bool = False) -> LoadedTrace:
    """Read a Mooncake-style JSONL trace (timestamps in ms) into canonical form."""
    path = Path(path)
    columns, lines, blank, not_json = _read_records(path)
    checker = record_checker(path, lines, not_json)
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
        bad = flag_id_lists(hash_ids, "hash_ids", checker)
        table["prefix_block_ids"] = pd.Series(
            [tuple(ids) if not b else () for ids, b in zip(hash_ids, bad)], dtype=object)
    notes: list[str] = [f"skipped {blank} blank lines"] if blank else []
    table = finish(table, checker=checker, fields=FIELDS, skip_bad=skip_bad, notes=notes,
                   shift_to_zero=True)
    return LoadedTrace(table, f"Mooncake JSONL {path}", "mooncake", block_tokens, notes)


def _read_records(path: Path):
    """Parse each non-blank line; returns columns, line numbers, blank count, JSON failures."""
    return read_jsonl_columns(path, ("timestamp", "input_length", "output_length", "hash_ids"))
