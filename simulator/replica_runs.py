"""The replica's runs besides plain decode runs: prompt chunks repeated beside every decode
(``Step.chunk_run``) and static batches drained to their end, each as one event and one row.

A mixin of ``simulator.replica.Replica``, kept apart so that each module has one job: it reads
and writes the replica's state (decoding set, KV cache, recorder) exactly as the single-step
path would over the same steps. Times are seconds, sizes tokens or KV blocks.
"""
from __future__ import annotations

import numpy as np

from batchsim.simulator.chunk_run import chunk_run_plan
from batchsim.simulator.cost import decode_run_times_s
from batchsim.simulator.decode_run import drain_plan
from batchsim.simulator.request import WAITING, Request
from batchsim.simulator.step import Step


class ReplicaRuns:
    """Chunk runs and drains of a ``Replica``."""

    def _run_chunk(self, step: Step, now_s: float) -> tuple[Request, int] | None:
        """(request, chunk) of a step that may start a chunk run (see ``Step.chunk_run``): one
        prompt chunk that leaves part of the prompt, of a running request or of a waiting one
        admitted now (not one resuming from swap, whose first step moves KV), and every
        decoding request one token (by ``decode`` or listed); None for any other step."""
        if step.preempt or step.shape is not None:
            return None
        tokens, count = step.tokens, self.decoding.count
        if len(tokens) == 1:
            if count and not step.decode:
                return None
            (request, chunk), = tokens.items()
        elif not step.decode and len(tokens) == count + 1:  # the decodes listed one by one
            members = self.decoding.members_by_request
            chunks = [(r, n) for r, n in tokens.items() if r not in members or n != 1]
            if len(chunks) != 1:
                return None
            request, chunk = chunks[0]
        else:
            return None
        if request.status == WAITING and not request.swapped_tokens:
            self._admit(request, now_s)  # takes its cached prefix; a single step would too
        if request not in self.prefilling or chunk >= request.tokens_to_compute:
            return None
        return request, chunk

    def _begin_chunk_run(self, request: Request, chunk: int, now_s: float, horizon_s: float,
                         max_steps: int | None) -> float:
        """Repeat one prompt chunk with the same decodes up to the step before the prompt
        completes, the first finish, the last step whose blocks fit, and the last step that
        starts before ``horizon_s``, at most ``max_steps`` steps."""
        decoding, kv = self.decoding, self.kv
        count = decoding.count
        limit = (request.tokens_to_compute - 1) // chunk  # steps that leave part of the prompt
        if count:
            limit = min(limit, decoding.next_finish_step() - decoding.step + 1)
            context_sum, context_max = decoding.context_sum(), decoding.longest_context()
        else:
            context_sum = context_max = 0
        if max_steps is not None and max_steps < limit:
            limit = max_steps
        cached = request.num_computed_tokens
        times_s, blocks = chunk_run_plan(
            self.cost_model, chunk, cached, request.kv_blocks, count, context_sum, context_max,
            decoding.phase_counts, decoding.step, kv.block_size, kv.free_blocks, now_s,
            horizon_s, limit)
        steps = len(times_s)
        cache = self.prefix_cache
        if cache is not None and request.prefix_block_ids:
            # step by step: a block the chunk computes is shared only if no eviction dropped
            # its cached copy first, so evictions and registrations interleave as in single steps
            for k, need in enumerate(blocks):
                kv.allocate(need)
                cache.register(request, cached + (k + 1) * chunk)
        else:  # evictions in one go drop the same LRU blocks; the request's own run just grows
            kv.allocate(sum(blocks))
            if cache is not None:
                cache.register(request, cached + steps * chunk)
        held = kv.blocks_for(cached + steps * chunk)
        if held > request.kv_blocks:
            request.kv_blocks = held
        end_s = now_s
        for step_s in times_s:  # the end times single steps would reach
            end_s += step_s
        duration_s = end_s - now_s
        self._chunk_run = (request, chunk, times_s)
        self._run_times_s = None
        self._run_start_s = now_s
        self._last_start_s = end_s - times_s[-1]
        self.busy_s += duration_s
        extent = (context_sum + count + cached + chunk, context_max + 1 if count else 0,
                  cached + chunk)  # step_extent of the first step
        self._step_row = self.recorder.step(self.index, now_s, duration_s, chunk, count,
                                            count + 1, self, extent, steps)
        return duration_s

    def _finish_chunk_run(self, end_s: float) -> int:
        request, chunk, times_s = self._chunk_run
        self._chunk_run = None
        sampled = self._finish_decode(end_s, times_s) if self.decoding.count else 0
        request.num_computed_tokens += len(times_s) * chunk
        self.recorder.sampled(self._step_row, sampled, self.policy.slots)
        return sampled

    def _begin_drain(self, batch: Step, now_s: float, horizon_s: float) -> float | None:
        """Decode ``batch.shape`` until every member finishes, as one run; None if KV blocks
        would run short on the way, or if a router would look at the replica before the run
        ends (members finish inside the run but leave ``running`` only at its end)."""
        members = self.decoding.members()
        for request in members:
            self.decoding.sync(request)
        cached = [r.num_computed_tokens for r in members]
        remaining = [r.output_tokens - r.num_generated for r in members]
        new_blocks, peak_blocks, decoding = drain_plan(cached, remaining, self.kv.block_size,
                                                       self.kv.used_blocks)
        if peak_blocks > self.kv.total_blocks:
            return None
        shape = batch.shape
        count, total, longest = shape.decode_count, shape.decode_context_sum, shape.decode_context_max
        times_s = decode_run_times_s(self.cost_model, count, total, longest, len(decoding))
        times_s[0] = self.cost_model.step_time_s(shape)
        last = len(times_s) - 1
        if last:  # the largest step through the scalar call, for cost models that note ranges
            times_s[last] = self._price_decode(count, total + last * count, longest + last)
        ends_s = now_s + np.cumsum(times_s)
        if self.state_observed and ends_s[-1] >= horizon_s:
            return None
        duration_s = float(ends_s[-1] - now_s)
        # take the run's peak so the cache's high-water mark is exact, then give back what the
        # finishing members will hand back themselves
        used_blocks = self.kv.used_blocks
        self.kv.allocate(peak_blocks - used_blocks)
        self.kv.release(peak_blocks - used_blocks - new_blocks)
        self._drain = (members, remaining, decoding, ends_s, times_s)
        self._run_times_s = times_s
        self._run_start_s = now_s
        self._last_start_s = float(ends_s[-1] - times_s[-1])
        self.busy_s += duration_s
        self._step_row = self.recorder.decode_step(
            self.index, now_s, duration_s, len(decoding), shape.decode_count,
            sum(remaining), self.policy.slots, self, total, longest)
        return duration_s

    def _finish_drain(self, end_s: float) -> int:
        members, remaining, decoding, ends_s, times_s = self._drain
        self._drain = None
        step = self.decoding.step
        self._record_first_gaps(float(ends_s[0]), int(decoding[0]))
        if len(times_s) > 1:
            self.recorder.itl_steps(times_s[1:], decoding[1:])
        for request, steps in zip(members, remaining):
            self.decoding.leave(request)  # synced when the drain began, at decode step ``step``
            request.num_generated += steps
            request.num_computed_tokens += steps
            request.kv_blocks = self.kv.blocks_for(request.num_computed_tokens)
            request.last_token_s = finish_s = float(ends_s[steps - 1])
            self._finish(request, finish_s)
        self.decoding.forget_stale()  # every member has left
        self.decoding.last_end_s = end_s
        self.decoding.step = step + len(times_s)
        return sum(remaining)
