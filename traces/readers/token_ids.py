"""Token-id JSONL (the workload file of the published vLLM runs in ../shared/vllm_runs):
``{"input_toks", "output_toks", "arrival_time_ns", "input_tok_ids": [...]}`` per line.

Arrivals are nanoseconds from the start. The prompt's token ids give its prefix identity,
kept compactly as ``prefix_block_ids``: one chain hash per full block of ``BLOCK_TOKENS`` (16)
tokens (the hash of the block before it and this block's ids; equal hashes = equal prefix),
so a simulated prefix cache of any block size can tell shared prefixes apart. Output token
ids, if present, are not read.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from batchsim.traces.canonical import LoadedTrace, finish
from batchsim.traces.readers.jsonl import flag_id_lists, read_jsonl_columns, record_checker
from batchsim.traces.rows import parse_float, parse_int

BLOCK_TOKENS = 16
FIELDS = {"arrival_s": "arrival_time_ns", "prompt_tokens": "input_toks",
          "output_tokens": "output_toks"}


def block_hashes(token_ids, block_tokens: int = BLOCK_TOKENS) -> tuple[int, ...]:
    """Chain hashes of the full ``block_tokens`` blocks of ``token_ids``."""
    hashes, parent = [], 0
    for start in range(0, len(token_ids) - block_tokens + 1, block_tokens):
        parent = hash((parent, *token_ids[start:start + block_tokens]))
        hashes.append(parent)
    return tuple(hashes)


def read_token_ids(path: str | Path, *, skip_bad: bool = False) -> LoadedTrace:
    """Read a token-id JSONL workload into canonical form with prefix block hashes."""
    path = Path(path)
    keys = ("arrival_time_ns", "input_toks", "output_toks", "input_tok_ids")
    columns, lines, blank, not_json = read_jsonl_columns(path, keys)
    checker = record_checker(path, lines, not_json)
    table = pd.DataFrame({
        "arrival_s": parse_float(pd.Series(columns["arrival_time_ns"], dtype=object),
                                 "arrival_time_ns", checker) / 1e9,
        "prompt_tokens": parse_int(pd.Series(columns["input_toks"], dtype=object),
                                   "input_toks", checker),
        "output_tokens": parse_int(pd.Series(columns["output_toks"], dtype=object),
                                   "output_toks", checker),
    })
    ids = columns["input_tok_ids"]
    bad = flag_id_lists(ids, "input_tok_ids", checker)
    table["prefix_block_ids"] = pd.Series(
        [block_hashes(t) if not b else () for t, b in zip(ids, bad)], dtype=object)
    notes: list[str] = [f"skipped {blank} blank lines"] if blank else []
    table = finish(table, checker=checker, fields=FIELDS, skip_bad=skip_bad, notes=notes,
                   shift_to_zero=False)
    return LoadedTrace(table, f"token-id JSONL {path}", "token-ids", BLOCK_TOKENS, notes)
