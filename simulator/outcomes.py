"""Per-request outcomes, recorded as requests end and put back in arrival order chunk by chunk.

Requests end out of arrival order. Each ending appends a few numbers to flat buffers (cheap per
request, no object kept); every ``FLUSH_REQUESTS`` endings the buffers are scattered into chunks
of consecutive arrival positions. A chunk whose requests have all ended is handed on, in arrival
order, as a table of columns (``request_table`` keys) and then dropped: memory holds the chunks
that still wait for a request, not the whole trace. With one chunk as long as the trace, the
table handed on at the end is the whole request table.
"""
from __future__ import annotations

from array import array
from typing import Callable

import numpy as np

from batchsim.simulator.request import FINISHED, Request
from batchsim.simulator.workload import TraceColumns

FLUSH_REQUESTS = 1 << 16
_NAN = float("nan")
TIMES = ("first_token_s", "finish_s", "admitted_s", "last_token_s")
COUNTS = ("preemptions", "replica", "num_generated")


def with_latencies(table: dict) -> dict:
    """Add ttft_s, tpot_s, e2e_s and queue_s (seconds; NaN where not finished) to ``table``."""
    arrival, first, finish = table["arrival_s"], table["first_token_s"], table["finish_s"]
    out_tokens, finished = table["output_tokens"], table["finished"]
    nan = _NAN
    ttft = first - arrival
    e2e = finish - arrival
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(out_tokens > 1, (finish - first) / (out_tokens - 1), nan)
    table["ttft_s"] = np.where(finished, ttft, nan)
    table["tpot_s"] = np.where(finished, tpot, nan)
    table["e2e_s"] = np.where(finished, e2e, nan)
    table["queue_s"] = table["admitted_s"] - arrival
    return table


class _Chunk:
    """Outcome columns of arrival positions [start, start + size)."""

    def __init__(self, start: int, size: int) -> None:
        self.start, self.size, self.remaining = start, size, size
        self.times = {name: np.full(size, _NAN) for name in TIMES}
        self.counts = {name: np.zeros(size, np.int64) for name in COUNTS}
        self.finished = np.zeros(size, bool)
        self.reason = np.full(size, "", dtype=object)


class Outcomes:
    """Collects ended requests; ``on_chunk(table)`` receives complete chunks in arrival order."""

    def __init__(self, trace: TraceColumns, chunk_requests: int,
                 on_chunk: Callable[[dict], None]) -> None:
        self.trace = trace
        self.chunk_requests = max(1, chunk_requests)
        self.on_chunk = on_chunk
        self.recorded = 0
        self._position: dict[Request, int] = {}  # requests that arrived and have not ended
        self._where = array("q")
        self._times = {name: array("d") for name in TIMES}
        self._counts = {name: array("q") for name in COUNTS}
        self._finished = array("b")
        self._reasons: list[tuple[int, str]] = []  # (position, reason) of rejected requests
        self._chunks: dict[int, _Chunk] = {}
        self._next_chunk = 0  # chunks before it were handed on

    def arrived(self, request: Request, position: int) -> None:
        """Note the arrival position of a request about to be routed."""
        self._position[request] = position

    def ended(self, request: Request) -> None:
        """Record a finished or rejected request; nothing keeps the request afterwards."""
        position = self._position.pop(request)
        self._where.append(position)
        times = self._times  # TIMES spelled out: this runs once per request
        first, finish = request.first_token_s, request.finish_s
        admitted, last = request.admitted_s, request.last_token_s
        times["first_token_s"].append(_NAN if first is None else first)
        times["finish_s"].append(_NAN if finish is None else finish)
        times["admitted_s"].append(_NAN if admitted is None else admitted)
        times["last_token_s"].append(_NAN if last is None else last)
        counts = self._counts
        counts["preemptions"].append(request.preemptions)
        counts["replica"].append(request.replica)
        counts["num_generated"].append(request.num_generated)
        finished = request.status == FINISHED
        self._finished.append(finished)
        if not finished:
            self._reasons.append((position, request.reason))
        if len(self._where) >= FLUSH_REQUESTS:
            self.flush()

    def close(self) -> None:
        """Hand on every chunk; every request that arrived must have ended."""
        self.flush()
        if self._position or self._chunks:
            raise RuntimeError(f"{len(self._position)} requests never ended")
        if not len(self.trace):
            self.on_chunk(self._table(_Chunk(0, 0)))

    def pending(self) -> list[Request]:
        """Requests that arrived and have not ended, in arrival order."""
        return sorted(self._position, key=self._position.__getitem__)

    def flush(self) -> None:
        """Move buffered endings into their chunks; hand on the chunks now complete."""
        where = np.frombuffer(self._where, dtype=np.int64)
        if where.size:
            chunk_of = where // self.chunk_requests
            finished = np.frombuffer(self._finished, dtype=np.int8).astype(bool)
            for index in np.unique(chunk_of).tolist():
                chunk = self._chunk(index)
                mine = chunk_of == index
                local = where[mine] - chunk.start
                for name in TIMES:
                    chunk.times[name][local] = np.frombuffer(self._times[name], np.float64)[mine]
                for name in COUNTS:
                    chunk.counts[name][local] = np.frombuffer(self._counts[name], np.int64)[mine]
                chunk.finished[local] = finished[mine]
                chunk.remaining -= int(local.size)
                if chunk.remaining < 0:
                    raise RuntimeError("a request was recorded twice")
            for position, reason in self._reasons:
                chunk = self._chunks[position // self.chunk_requests]
                chunk.reason[position - chunk.start] = reason
            self.recorded += int(where.size)
            del where, chunk_of
            self._where = array("q")
            self._times = {name: array("d") for name in TIMES}
            self._counts = {name: array("q") for name in COUNTS}
            self._finished = array("b")
            self._reasons = []
        while self._next_chunk in self._chunks and self._chunks[self._next_chunk].remaining == 0:
            self.on_chunk(self._table(self._chunks.pop(self._next_chunk)))
            self._next_chunk += 1

    def _chunk(self, index: int) -> _Chunk:
        chunk = self._chunks.get(index)
        if chunk is None:
            start = index * self.chunk_requests
            size = min(self.chunk_requests, len(self.trace) - start)
            chunk = self._chunks[index] = _Chunk(start, size)
        return chunk

    def _table(self, chunk: _Chunk) -> dict:
        table = self.trace.columns(chunk.start, chunk.start + chunk.size)
        table.update(chunk.times)
        table.update(chunk.counts)
        table["finished"] = chunk.finished
        table["reason"] = chunk.reason
        return with_latencies(table)
