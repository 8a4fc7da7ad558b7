"""A trace as the simulator replays it: columns in arrival order, one Request built per arrival.

A ten-million-request trace held as Request objects takes gigabytes; as columns it takes 24 bytes
a request. ``TraceColumns`` keeps the columns (numpy arrays, read through memoryviews so that
indexing yields plain Python numbers) and builds each Request when it arrives; once the request
has finished nothing refers to it. Position i is the i-th arrival (ties keep table order).

A table with ``prefix_block_ids`` (per request, ids of its prompt's first blocks; equal ids =
equal prefix) names the tokens per id in ``table.attrs["prefix_block_tokens"]``, set where the
trace is loaded (traces/loaded.py).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from batchsim.simulator.request import Request


class TraceColumns:
    """Arrival-ordered request columns; ``request(i)`` builds the i-th request."""

    def __init__(self, arrival_s, prompt_tokens, output_tokens, request_ids=None,
                 prefix_block_ids=None, requests: Sequence[Request] | None = None) -> None:
        self.arrival_s_column = np.ascontiguousarray(arrival_s, dtype=np.float64)
        self.prompt_tokens_column = np.ascontiguousarray(prompt_tokens, dtype=np.int64)
        self.output_tokens_column = np.ascontiguousarray(output_tokens, dtype=np.int64)
        n = self.arrival_s_column.size
        self.request_ids = np.arange(n) if request_ids is None else np.asarray(request_ids)
        self.prefix_block_ids = prefix_block_ids
        self._requests = requests  # given Request objects, replayed as they are
        self.arrival_s = memoryview(self.arrival_s_column)  # [i] -> float
        self._prompt = memoryview(self.prompt_tokens_column)
        self._output = memoryview(self.output_tokens_column)
        self._ids = self.request_ids.tolist() if self.request_ids.dtype == object else None

    def __len__(self) -> int:
        return self.arrival_s_column.size

    def request(self, position: int) -> Request:
        """The request at ``position`` (built now unless Request objects were given)."""
        if self._requests is not None:
            return self._requests[position]
        request_id = self._ids[position] if self._ids is not None else int(self.request_ids[position])
        prefix = self.prefix_block_ids[position] if self.prefix_block_ids is not None else None
        return Request(request_id, self.arrival_s[position], self._prompt[position],
                       self._output[position], tuple(prefix) if prefix is not None else None)

    def columns(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Identity, arrival and lengths of positions ``start`` to ``stop`` - 1."""
        return {"request_id": self.request_ids[start:stop],
                "arrival_s": self.arrival_s_column[start:stop],
                "prompt_tokens": self.prompt_tokens_column[start:stop],
                "output_tokens": self.output_tokens_column[start:stop]}

    @classmethod
    def of_requests(cls, requests: Sequence[Request]) -> "TraceColumns":
        """Columns of given Request objects (sorted by arrival), which the replay updates."""
        n = len(requests)
        return cls(np.fromiter((r.arrival_s for r in requests), np.float64, n),
                   np.fromiter((r.prompt_tokens for r in requests), np.int64, n),
                   np.fromiter((r.output_tokens for r in requests), np.int64, n),
                   _ids([r.request_id for r in requests]), requests=requests)


def _ids(values: list) -> np.ndarray:
    if all(isinstance(v, (int, np.integer)) for v in values):
        return np.asarray(values, dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def trace_from_table(table) -> TraceColumns:
    """The columns of a canonical table (arrival_s, prompt_tokens, output_tokens...), stably
    sorted by arrival."""
    arrival = np.asarray(table["arrival_s"], dtype=np.float64)
    order = None
    if arrival.size > 1 and np.any(arrival[1:] < arrival[:-1]):
        order = np.argsort(arrival, kind="stable")
    pick = (lambda column: column) if order is None else (lambda column: column[order])
    ids = None
    if "request_id" in table:
        ids = np.asarray(table["request_id"])
        if ids.dtype != object and not np.issubdtype(ids.dtype, np.integer):
            ids = _ids(ids.tolist())
        ids = pick(ids)
    prefixes = None
    if "prefix_block_ids" in table:
        prefixes = list(table["prefix_block_ids"])
        if order is not None:
            prefixes = [prefixes[i] for i in order.tolist()]
    return TraceColumns(pick(arrival), pick(np.asarray(table["prompt_tokens"], dtype=np.int64)),
                        pick(np.asarray(table["output_tokens"], dtype=np.int64)), ids, prefixes)


def requests_from_table(table) -> list[Request]:
    """One Request per row of a canonical table, in arrival order (small traces and tests)."""
    trace = trace_from_table(table)
    return [trace.request(i) for i in range(len(trace))]


def table_prefix_block_tokens(table) -> int | None:
    """Tokens per prefix block id of ``table``'s requests, None if it carries no ids."""
    if "prefix_block_ids" not in table:
        return None
    return getattr(table, "attrs", {}).get("prefix_block_tokens")
