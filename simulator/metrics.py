"""Raw measurements of a simulation: step rows, inter-token gaps, per-request outcomes.

Steps are packed as fixed-size binary rows so recording a row is one C call. Inter-token
latencies are kept as (gap seconds, count) pairs: every request decoded in a step shares the gap
since the previous decode step, so one pair stands for many tokens. Ended requests go to
``Outcomes`` (no Request object is kept).

A run keeps everything while it is small: every step row, every gap pair up to
``EXACT_ITL_PAIRS``, the per-request table up to ``EXACT_REQUESTS`` requests; summaries then give
exact percentiles. Beyond those sizes the recorder streams: step rows and request chunks are
folded into running totals and fixed-size sketches (percentiles within 1%, see ``sketch``) and
handed to an optional sink (CSV writers), so memory stays flat however long the trace.
"""
from __future__ import annotations

import struct
from array import array

import numpy as np

from batchsim.simulator.outcomes import Outcomes
from batchsim.simulator.peaks import output_tokens_by_second
from batchsim.simulator.request import Request
from batchsim.simulator.request_stats import RequestStats, add_padded
from batchsim.simulator.sketch import ExactValues, LogSketch
from batchsim.simulator.step_totals import StepTotals

STEP_COLUMNS = ("replica", "start_s", "duration_s", "steps", "prefill_tokens", "decode_seqs",
                "num_seqs",
                "sampled_tokens", "slots", "kv_blocks_used", "waiting", "running",
                "kv_tokens", "decode_context", "prefill_length")
# the last three describe a row's first step (simulator.measured_range says how runs grow):
# KV tokens its attention reads, the longest decode context (its new token included) and the
# longest prefilling sequence (cached plus new tokens)
# seconds as float64, counts as int64, little-endian and unpadded
ROW = np.dtype([(name, "<f8" if name.endswith("_s") else "<i8") for name in STEP_COLUMNS])
_PACK = struct.Struct("<" + "".join("d" if n.endswith("_s") else "q" for n in STEP_COLUMNS)).pack
_SAMPLED_AT = ROW.fields["sampled_tokens"][1]  # slots follows it
_WAITING_AT = ROW.fields["waiting"][1]
_TWO = struct.Struct("<qq")
_ONE = struct.Struct("<q")

EXACT_REQUESTS = 2_000_000  # per-request table kept (exact latency percentiles) up to this size
EXACT_ITL_PAIRS = 4_000_000  # (gap, count) pairs kept before they are folded into a sketch
STREAM_CHUNK_REQUESTS = 1 << 16  # arrival positions per streamed request chunk
STREAM_STEP_ROWS = 1 << 16  # step rows per streamed chunk
_CHECK_BYTES = (1 << 14) * ROW.itemsize  # how often (in row bytes) sizes are checked


class Recorder:
    """Collects steps, inter-token gaps, preemptions and finished or rejected requests.

    ``trace`` is the replayed TraceColumns; ``keep_requests`` (default: the trace has at most
    ``EXACT_REQUESTS`` requests) keeps the whole request table and every step row, otherwise
    both stream. ``sink`` (optional) receives ``write_requests(table)`` and
    ``write_steps(columns)`` chunks in order; ``slo`` is what a streamed run counts goodput
    against.
    """

    def __init__(self, trace, keep_requests: bool | None = None, sink=None, slo=None) -> None:
        self._rows = bytearray()  # ROW records, appended as steps start
        self._row_base = 0  # rows streamed out before the first one in _rows
        self._open_rows: dict[int, int] = {}  # replica -> its latest row, still written to
        self._next_check = _CHECK_BYTES
        self.itl_gap_s = array("d")
        self.itl_count = array("q")
        self._itl_sketch: LogSketch | None = None
        self.preemptions = 0
        self.listeners: list = []  # called with each request as it ends
        # name -> function of step columns, applied to every streamed chunk of rows (register
        # before the run); step_fold_results(name) gives them with the rows still kept
        self.step_folds: dict = {}
        self._fold_results: dict[str, list] = {}
        self.sink = sink
        self.keeps_requests = len(trace) <= EXACT_REQUESTS if keep_requests is None else keep_requests
        self._table: dict | None = None
        self._streamed_steps = StepTotals()
        self._streamed_tokens_by_second = np.zeros(0)  # from the requests' origin_s
        self._stats = RequestStats(slo)
        chunk = max(len(trace), 1) if self.keeps_requests else STREAM_CHUNK_REQUESTS
        self.outcomes = Outcomes(trace, chunk, self._requests_chunk)

    # ----- recording (called by replicas) ---------------------------------------------------
    def step(self, replica: int, start_s: float, duration_s: float, prefill_tokens: int,
             decode_seqs: int, num_seqs: int, state, extent: tuple[int, int, int],
             steps: int = 1) -> int:
        """Record one step, or a run of ``steps`` steps of one prompt chunk, as it starts
        (sampled tokens come at its end); return its row. ``extent`` is (KV tokens, decode
        context, prefill length) of the first step; counts are per step."""
        rows = self._rows
        rows += _PACK(replica, start_s, duration_s, steps, prefill_tokens, decode_seqs, num_seqs,
                      0, 0, state.kv.used_blocks, len(state.waiting), len(state.running), *extent)
        if len(rows) >= self._next_check:
            self._check_sizes()
        row = self._open_rows[replica] = len(rows) // ROW.itemsize - 1 + self._row_base
        return row

    def decode_step(self, replica: int, start_s: float, duration_s: float, steps: int,
                    decode_seqs: int, sampled: int, slots: int, state, context_sum: int,
                    context_max: int) -> int:
        """Record a decode-only step or run of ``steps`` steps, whose sampled tokens are known
        when it starts; return its row. Contexts are the first step's cached tokens."""
        rows = self._rows
        rows += _PACK(replica, start_s, duration_s, steps, 0, decode_seqs, decode_seqs, sampled,
                      slots, state.kv.used_blocks, len(state.waiting), len(state.running),
                      context_sum + decode_seqs, context_max + 1 if decode_seqs else 0, 0)
        if len(rows) >= self._next_check:
            self._check_sizes()
        row = self._open_rows[replica] = len(rows) // ROW.itemsize - 1 + self._row_base
        return row

    def sampled(self, row: int, tokens: int, slots: int) -> None:
        """Record how many tokens the step at ``row`` sampled and the slots it offered."""
        _TWO.pack_into(self._rows, (row - self._row_base) * ROW.itemsize + _SAMPLED_AT, tokens,
                       slots)

    def raise_waiting(self, row: int, waiting: int) -> None:
        """A request queued during the run at ``row``: its later steps start with ``waiting``."""
        _ONE.pack_into(self._rows, (row - self._row_base) * ROW.itemsize + _WAITING_AT, waiting)

    def itl(self, gap_s: float, count: int) -> None:
        """Record ``count`` inter-token gaps of ``gap_s`` seconds."""
        if count > 0:
            self.itl_gap_s.append(gap_s)
            self.itl_count.append(count)

    def itl_run(self, gaps_s, count: int) -> None:
        """Record ``count`` gaps of each duration in ``gaps_s`` (one decode run's later steps)."""
        if isinstance(gaps_s, np.ndarray):  # read through the buffer: no bytes copy
            self.itl_gap_s.frombytes(np.ascontiguousarray(gaps_s, dtype=np.float64).data.cast("B"))
        else:
            self.itl_gap_s.extend(gaps_s)
        self.itl_count.extend(array("q", (count,)) * len(gaps_s))

    def itl_steps(self, gaps_s: np.ndarray, counts: np.ndarray) -> None:
        """Record ``counts[j]`` gaps of ``gaps_s[j]`` for each j (steps of a draining batch)."""
        if counts.size and counts.min() <= 0:  # a drain's steps always decode someone
            keep = counts > 0
            gaps_s, counts = gaps_s[keep], counts[keep]
        self.itl_gap_s.frombytes(np.ascontiguousarray(gaps_s, dtype=np.float64).data.cast("B"))
        self.itl_count.frombytes(np.ascontiguousarray(counts, dtype=np.int64).data.cast("B"))

    def preempted(self, replica: int) -> None:
        """Count one preemption."""
        self.preemptions += 1

    def arrived(self, request: Request, position: int) -> None:
        """A request at arrival ``position`` is about to be routed."""
        self.outcomes.arrived(request, position)

    def request_done(self, request: Request) -> None:
        """Record a request that finished or was rejected (and tell the listeners)."""
        self.outcomes.ended(request)
        for listener in self.listeners:
            listener(request)

    def close(self) -> None:
        """The run is over: hand on what is still buffered."""
        self.outcomes.close()
        if self.sink is not None:
            if self._row_base or not self.keeps_requests:
                self._stream_rows(len(self._rows) // ROW.itemsize)
            else:
                self.sink.write_steps(self.steps)

    # ----- size control ---------------------------------------------------------------------
    def _check_sizes(self) -> None:
        self._next_check = len(self._rows) + _CHECK_BYTES
        if len(self.itl_count) > EXACT_ITL_PAIRS:
            self._fold_itl()
        if (not self.keeps_requests and len(self._rows) >= STREAM_STEP_ROWS * ROW.itemsize
                and self._stats.origin_s is not None):  # per-second buckets need the origin
            # rows before every replica's latest row are final
            final = min(self._open_rows.values(), default=self._row_base) - self._row_base
            if final > 0:
                self._stream_rows(final)

    def _stream_rows(self, count: int) -> None:
        columns = self._columns(np.frombuffer(self._rows, dtype=ROW, count=count))
        self._streamed_steps = self._streamed_steps + StepTotals.of(columns)
        for name, fold in self.step_folds.items():
            self._fold_results.setdefault(name, []).append(fold(columns))
        # rows stream during the run only once the origin is known; at the end, None means
        # no request finished and buckets count from 0 s, as a kept run's do
        self._streamed_tokens_by_second = add_padded(
            self._streamed_tokens_by_second,
            output_tokens_by_second(columns, self._stats.origin_s or 0.0))
        if self.sink is not None:
            self.sink.write_steps(columns)
        del self._rows[:count * ROW.itemsize]
        self._row_base += count
        self._next_check = len(self._rows) + _CHECK_BYTES

    def _fold_itl(self) -> None:
        if self._itl_sketch is None:
            self._itl_sketch = LogSketch()
        self._itl_sketch.add(np.frombuffer(self.itl_gap_s, dtype=np.float64),
                             np.frombuffer(self.itl_count, dtype=np.int64))
        self.itl_gap_s, self.itl_count = array("d"), array("q")

    def _requests_chunk(self, table: dict) -> None:
        if self.keeps_requests:
            self._table = table
        else:
            self._stats.add(table)
        if self.sink is not None:
            self.sink.write_requests(table)

    @staticmethod
    def _columns(table: np.ndarray) -> dict[str, np.ndarray]:
        return {name: np.ascontiguousarray(table[name]) for name in STEP_COLUMNS}

    # ----- reading (summaries, exports) -----------------------------------------------------
    @property
    def steps(self) -> dict[str, np.ndarray]:
        """Step rows as columns: float64 for the ``*_s`` columns, int64 for the counts."""
        if self._row_base:
            raise ValueError("step rows were streamed out of memory; read them from steps.csv")
        table = np.frombuffer(self._rows, dtype=ROW)  # a view: columns are copied out of it
        columns = self._columns(table)
        del table  # release the buffer so later rows can still be appended
        return columns

    @property
    def num_rows(self) -> int:
        """Step rows recorded (a run of decode steps is one row)."""
        return self._row_base + len(self._rows) // ROW.itemsize

    @property
    def num_steps(self) -> int:
        """Forward steps simulated (a run of identical decode steps counts each step)."""
        return self.step_totals().steps

    def step_totals(self) -> StepTotals:
        """Totals over every step row."""
        rest = self._columns(np.frombuffer(self._rows, dtype=ROW))
        return self._streamed_steps + StepTotals.of(rest) if self._row_base else StepTotals.of(rest)

    def step_fold_results(self, name: str, fold) -> list:
        """``fold`` of every streamed chunk of step rows (as registered) and of the rows kept."""
        rest = self._columns(np.frombuffer(self._rows, dtype=ROW))
        return self._fold_results.get(name, []) + [fold(rest)]

    def peak_output_tokens_per_s(self, origin_s: float | None) -> float:
        """The most tokens sampled in one second counted from ``origin_s`` (0 if None)."""
        rest = self._columns(np.frombuffer(self._rows, dtype=ROW))
        tokens = add_padded(self._streamed_tokens_by_second,
                            output_tokens_by_second(rest, origin_s or 0.0))
        return float(tokens.max()) if tokens.size else 0.0

    def request_table(self) -> dict[str, np.ndarray]:
        """Per-request columns in arrival order (``outcomes.with_latencies`` keys)."""
        if self._table is None:
            raise ValueError("per-request rows were streamed out of memory (a run of more than "
                             f"{EXACT_REQUESTS:,} requests); read them from requests.csv")
        return self._table

    def request_stats(self, slo=None) -> RequestStats:
        """Request totals and latency statistics; exact when the table is kept."""
        if self._table is not None:
            return RequestStats.of_table(self._table, slo)
        return self._stats

    def drop_itl(self) -> None:
        """Forget the inter-token gaps (summaries then report no ITL)."""
        self.itl_gap_s, self.itl_count, self._itl_sketch = array("d"), array("q"), None

    def itl_values(self) -> ExactValues | LogSketch:
        """Every inter-token gap: exact pairs, or a sketch once there were too many."""
        gaps = np.frombuffer(self.itl_gap_s, dtype=np.float64)
        counts = np.frombuffer(self.itl_count, dtype=np.int64)
        if self._itl_sketch is None:
            return ExactValues(gaps, counts)
        self._fold_itl()
        return self._itl_sketch
