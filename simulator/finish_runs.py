"""Decode runs that go on past finishes (``Step.continues_past_finishes``), as one event.

A plain decode run ends at the first finish, because a finish may change the policy's next
choice. A policy that promises otherwise (nothing waits, nothing prefills, blocks suffice) lets
the replica go on without asking it again and without going back to the event loop: the run is
a chain of segments of one composition each, and each segment is priced, allocated, recorded
(one step row) and finished exactly as the plain decode run of that composition would be
(decode_run.py), with the same floats in the same order. Segments end at finishes until one
reaches the next arrival that may reach the replica, runs short of KV blocks for its next step
(the policy would preempt), or leaves nobody decoding (the policy would idle).

A mixin of ``simulator.replica.Replica``. Segments before the last are finished as the run
begins: their finishes come before the next arrival that may reach the replica, so no router or
policy looks at the replica in between. The last one is left to ``finish_step`` like a plain
decode run. Outputs are byte-identical to stepping the runs one by one.

Why rows are not merged across finishes: one row for a shrinking batch would spread its tokens
evenly over its steps (peaks.py), widen its measured-range bounds (measured_range.py) and need
per-row sums for the mean batch and KV usage; a row costs one struct pack, so keeping one per
composition costs little and keeps every output exact.
"""
from __future__ import annotations

from batchsim.simulator.decode_run import run_step_times, steps_with_blocks


class FinishRuns:
    """Decode runs through finishes of a ``Replica``."""

    def _begin_run_past_finishes(self, now_s: float, horizon_s: float) -> float:
        """Run decode-only steps from ``now_s`` through finishes (see the module docstring);
        return the end time of the run in seconds."""
        decoding, kv = self.decoding, self.kv
        price, cost_model = self._price_decode, self.cost_model
        block_size, phase_counts = decoding.block_size, decoding.phase_counts
        total_blocks = kv.total_blocks
        while True:
            step, members = decoding.step, decoding.count
            finish_limit = limit = decoding.next_finish_step() - step + 1
            free_blocks = total_blocks - kv.used_blocks
            if members * (limit // block_size + 1) > free_blocks:  # else every step fits
                limit = steps_with_blocks(phase_counts, step, limit, members, free_blocks)
            total = decoding.offset_sum + members * step
            longest = decoding.longest_context()
            first_s = price(members, total, longest)
            times_s = run_step_times(cost_model, price, members, total, longest, first_s, now_s,
                                     horizon_s, limit)
            steps = len(times_s)
            duration_s = self._take_decode_steps(now_s, times_s, first_s, step, members, members,
                                                 total, longest)
            end_s = now_s + duration_s
            if steps < finish_limit or end_s >= horizon_s:
                break  # the arrival or a block shortage ends it: the last segment
            # the segment ends with a finish before the next arrival: finish it now
            self._run_start_s = now_s
            self._finish_decode(end_s, times_s)
            now_s = end_s
            if not decoding.count or decoding.blocks_needed() > total_blocks - kv.used_blocks:
                self._run_times_s = None
                self._run_done = True  # nothing is left for finish_step: the policy chooses next
                self._last_start_s = end_s - float(times_s[-1])
                return end_s
        self._run_times_s = times_s
        self._run_start_s = now_s
        self._last_start_s = end_s - float(times_s[-1])
        return end_s
