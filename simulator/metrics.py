"""Raw measurements of a simulation: one row per step, per-request outcomes, inter-token gaps.

Steps are packed as fixed-size binary rows so a million-request run stays small and recording a
row is one C call. Inter-token latencies are kept as (gap seconds, count) pairs: every request
decoded in a step shares the gap since the previous decode step, so one pair stands for many
tokens.
"""
from __future__ import annotations

import struct
from array import array

import numpy as np

from batchsim.simulator.request import Request

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


class Recorder:
    """Collects steps, inter-token gaps, preemptions and finished or rejected requests."""

    def __init__(self) -> None:
        self._rows = bytearray()  # ROW records, appended as steps start
        self.itl_gap_s = array("d")
        self.itl_count = array("q")
        self.done: list[Request] = []
        self.preemptions = 0

    def step(self, replica: int, start_s: float, duration_s: float, prefill_tokens: int,
             decode_seqs: int, num_seqs: int, state, extent: tuple[int, int, int]) -> int:
        """Record one step as it starts (sampled tokens come at its end); return its row.
        ``extent`` is (KV tokens, decode context, prefill length)."""
        rows = self._rows
        rows += _PACK(replica, start_s, duration_s, 1, prefill_tokens, decode_seqs, num_seqs,
                      0, 0, state.kv.used_blocks, len(state.waiting), len(state.running), *extent)
        return len(rows) // ROW.itemsize - 1

    def decode_step(self, replica: int, start_s: float, duration_s: float, steps: int,
                    decode_seqs: int, sampled: int, slots: int, state, context_sum: int,
                    context_max: int) -> int:
        """Record a decode-only step or run of ``steps`` steps, whose sampled tokens are known
        when it starts; return its row. Contexts are the first step's cached tokens."""
        rows = self._rows
        rows += _PACK(replica, start_s, duration_s, steps, 0, decode_seqs, decode_seqs, sampled,
                      slots, state.kv.used_blocks, len(state.waiting), len(state.running),
                      context_sum + decode_seqs, context_max + 1 if decode_seqs else 0, 0)
        return len(rows) // ROW.itemsize - 1

    @property
    def steps(self) -> dict[str, np.ndarray]:
        """Step rows as columns: float64 for the ``*_s`` columns, int64 for the counts."""
        table = np.frombuffer(self._rows, dtype=ROW)  # a view: columns are copied out of it
        columns = {name: np.ascontiguousarray(table[name]) for name in STEP_COLUMNS}
        del table  # release the buffer so later rows can still be appended
        return columns

    @property
    def num_rows(self) -> int:
        """Step rows recorded (a run of decode steps is one row)."""
        return len(self._rows) // ROW.itemsize

    def sampled(self, row: int, tokens: int, slots: int) -> None:
        """Record how many tokens the step at ``row`` sampled and the slots it offered."""
        _TWO.pack_into(self._rows, row * ROW.itemsize + _SAMPLED_AT, tokens, slots)

    def raise_waiting(self, row: int, waiting: int) -> None:
        """A request queued during the run at ``row``: its later steps start with ``waiting``."""
        _ONE.pack_into(self._rows, row * ROW.itemsize + _WAITING_AT, waiting)

    def itl(self, gap_s: float, count: int) -> None:
        """Record ``count`` inter-token gaps of ``gap_s`` seconds."""
        if count > 0:
            self.itl_gap_s.append(gap_s)
            self.itl_count.append(count)

    def itl_run(self, gaps_s, count: int) -> None:
        """Record ``count`` gaps of each duration in ``gaps_s`` (one decode run's later steps)."""
        if isinstance(gaps_s, np.ndarray):
            self.itl_gap_s.frombytes(gaps_s.astype(np.float64, copy=False).tobytes())
        else:
            self.itl_gap_s.extend(gaps_s)
        self.itl_count.extend(array("q", (count,)) * len(gaps_s))

    def itl_steps(self, gaps_s: np.ndarray, counts: np.ndarray) -> None:
        """Record ``counts[j]`` gaps of ``gaps_s[j]`` for each j (steps of a draining batch)."""
        keep = counts > 0
        self.itl_gap_s.frombytes(gaps_s[keep].astype(np.float64, copy=False).tobytes())
        self.itl_count.frombytes(counts[keep].astype(np.int64, copy=False).tobytes())

    def preempted(self, replica: int) -> None:
        """Count one preemption."""
        self.preemptions += 1

    def request_done(self, request: Request) -> None:
        """Keep a request that finished or was rejected."""
        self.done.append(request)

    @property
    def num_steps(self) -> int:
        """Forward steps simulated (a run of identical decode steps counts each step)."""
        return int(self.steps["steps"].sum())
