"""Turn a canonical trace table into simulator requests.

A table with ``prefix_block_ids`` (per request, ids of its prompt's first blocks; equal ids =
equal prefix) names the tokens per id in ``table.attrs["prefix_block_tokens"]``, set where the
trace is loaded (traces/canonical.py).
"""
from __future__ import annotations

import numpy as np

from batchsim.simulator.request import Request


def requests_from_table(table) -> list[Request]:
    """One Request per row of a canonical table (arrival_s, prompt_tokens, output_tokens...)."""
    n = len(table)
    arrival = np.asarray(table["arrival_s"], dtype=float).tolist()
    prompt = np.asarray(table["prompt_tokens"], dtype=np.int64).tolist()
    output = np.asarray(table["output_tokens"], dtype=np.int64).tolist()
    ids = table["request_id"].tolist() if "request_id" in table else list(range(n))
    prefixes = table["prefix_block_ids"].tolist() if "prefix_block_ids" in table else [None] * n
    requests = [Request(ids[i], arrival[i], prompt[i], output[i],
                        tuple(prefixes[i]) if prefixes[i] is not None else None)
                for i in range(n)]
    if any(arrival[i] > arrival[i + 1] for i in range(n - 1)):
        requests.sort(key=lambda r: r.arrival_s)
    return requests


def table_prefix_block_tokens(table) -> int | None:
    """Tokens per prefix block id of ``table``'s requests, None if it carries no ids."""
    if "prefix_block_ids" not in table:
        return None
    return getattr(table, "attrs", {}).get("prefix_block_tokens")
