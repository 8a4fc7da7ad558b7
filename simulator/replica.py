"""One serving replica's state and step mechanics, free of any event loop.

A policy reads the replica through ``view`` (simulator/view.py: read-only, counters current)
and returns a ``Step``; ``begin_step`` applies it and prices it, ``finish_step`` records what
the step produced at its end time. Times are seconds, sizes tokens or KV blocks.

The speed machinery is private to this module: decoding requests live in a lazy
``DecodingSet`` (a decode step costs O(1)); a decode-only step runs as a run of identical steps
in one call (see ``begin_step``), and so does a step of one prompt chunk beside every decode
when the policy marks it ``chunk_run``; a static batch may drain, finishes included, in one run
(those two in simulator/replica_runs.py).
Invariant: ``kv.used_blocks`` equals the blocks held by running requests (synced), a block
shared through the prefix cache counted once.
"""
from __future__ import annotations

import math
from collections import deque

from batchsim.simulator.decode_run import (blocks_for_steps, run_step_times, steps_before_eviction,
                                           steps_with_blocks)
from batchsim.simulator.decoding_set import DecodingSet
from batchsim.simulator.finish_runs import FinishRuns
from batchsim.simulator.kv_cache import BlockManager
from batchsim.simulator.metrics import Recorder
from batchsim.simulator.replica_runs import ReplicaRuns
from batchsim.simulator.request import FINISHED, REJECTED, RUNNING, WAITING, Request
from batchsim.simulator.step import Step, StepShape, step_extent
from batchsim.simulator.view import ReplicaView


class Replica(ReplicaRuns, FinishRuns):
    """State of one replica: queues, KV cache, decoding set, and step application."""

    def __init__(self, index: int, policy, cost_model, kv: BlockManager, max_model_len: int,
                 recorder: Recorder, swap_preemption: bool = False, prefix_cache=None) -> None:
        self.index = index
        self.policy = policy
        self.cost_model = cost_model
        self.kv = kv
        self.max_model_len = max_model_len
        self.recorder = recorder
        # a cost model may price a decode-only step from its three numbers, sparing a StepShape
        self._price_decode = getattr(cost_model, "decode_step_time_s", self._price_decode_shape)
        # and one prompt chunk beside decodes from its five numbers (looked up on the class: a
        # wrapper that forwards attributes must not hand on its base model's pricing)
        self._price_chunk = (cost_model.chunk_step_time_s
                             if hasattr(type(cost_model), "chunk_step_time_s") else None)
        self.swap_preemption = swap_preemption
        self.prefix_cache = prefix_cache  # a PrefixCache over ``kv``, or None
        self.waiting: deque[Request] = deque()
        self.running: dict[Request, None] = {}  # admission order, oldest first
        self.prefilling: dict[Request, None] = {}  # running, prompt not yet fully computed
        self.decoding = DecodingSet(kv.block_size)
        self.busy_s = 0.0
        self.clock_s = 0.0  # end of the last step finished
        self._step_row = -1
        self._last_start_s = -math.inf  # start of the last step of the current step or run
        self._run_times_s = None  # step times of the current decode run, None for other steps
        self._run_start_s = 0.0
        self._run_done = False  # the run begun last was finished whole when it began
        self._drain = None  # a static batch decoded to its end in one run (see _begin_drain)
        self._chunk_run = None  # (request, chunk, step times) of a chunk run begun last
        self.state_observed = False  # a router reads ``outstanding`` at every arrival
        self._sitting_out: list[Request] = []  # decoding requests a step left out
        self.view = ReplicaView(self)

    @property
    def outstanding(self) -> int:
        """Requests routed here and not yet finished."""
        return len(self.waiting) + len(self.running)

    def blocks_freed_by(self, request: Request) -> int:
        """Blocks that preempting running ``request`` would make free."""
        self.decoding.sync(request)
        if self.prefix_cache is None:
            return request.kv_blocks
        return request.kv_blocks - self.prefix_cache.shared_blocks(request)


    # ----- arrivals -----------------------------------------------------------------------
    def enqueue(self, request: Request, now_s: float) -> None:
        """Accept a routed request, or reject it if it can never fit."""
        request.replica = self.index
        total = request.prompt_tokens + request.output_tokens
        if total > self.max_model_len:
            self._reject(request, now_s, f"exceeds max_model_len: prompt+output {total} tokens > "
                                         f"{self.max_model_len}")
        elif self.kv.blocks_for(total) > self.kv.total_blocks:
            self._reject(request, now_s, f"exceeds KV cache: needs {self.kv.blocks_for(total)} "
                                         f"blocks, cache holds {self.kv.total_blocks}")
        else:
            reason = self.policy.admission_error(request)
            if reason:
                self._reject(request, now_s, reason)
            else:
                self.waiting.append(request)
                if now_s < self._last_start_s:  # arrived during a run that ignores arrivals
                    self.recorder.raise_waiting(self._step_row, len(self.waiting))

    def _reject(self, request: Request, now_s: float, reason: str) -> None:
        request.status, request.reason, request.finish_s = REJECTED, reason, now_s
        self.recorder.request_done(request)

    # ----- applying a step ----------------------------------------------------------------
    def begin_step(self, step: Step, now_s: float, horizon_s: float = math.inf,
                   max_steps: int | None = None) -> float:
        """Apply ``step`` (preempt, admit, allocate) and return the time in seconds at which
        it (or the run it starts) ends.

        A decode-only step is repeated while nothing can change the policy's decision: up to
        the first finish, the last step whose KV blocks fit, and the last step that starts
        before ``horizon_s`` (the next arrival; ignored if the step ignores arrivals), at most
        ``max_steps`` steps; one the policy marks ``continues_past_finishes`` goes on through
        finishes (simulator/finish_runs.py).
        """
        decoding = self.decoding
        if step.decode and not step.tokens and not step.preempt and decoding.count:
            if step.drain and max_steps is None:
                duration_s = self._begin_drain(step, now_s, horizon_s)
                if duration_s is not None:
                    return now_s + duration_s
            if step.ignores_arrivals:
                horizon_s = math.inf
            elif (step.continues_past_finishes and max_steps is None and step.shape is None
                  and not self.waiting and not self.prefilling):
                return self._begin_run_past_finishes(now_s, horizon_s)
            return now_s + self._begin_decode_run(step, now_s, horizon_s, max_steps)
        if step.chunk_run and max_steps != 1:
            chunk = self._run_chunk(step, now_s)
            if chunk is not None:
                if step.ignores_arrivals:
                    horizon_s = math.inf
                return now_s + self._begin_chunk_run(*chunk, now_s, horizon_s, max_steps)
        return now_s + self._begin_single_step(step, now_s)

    def _begin_single_step(self, step: Step, now_s: float) -> float:
        kv, decoding = self.kv, self.decoding
        swap_tokens = prefill_tokens = new_blocks = 0
        for victim in step.preempt:
            swap_tokens += self._preempt(victim)
        members = decoding.members_by_request
        prefills, chunks = [], []
        for request, tokens in step.tokens.items():
            if request in members:  # a decode listed explicitly
                continue
            if request.status == WAITING:  # takes its cached prefix, if any, as computed
                self._admit(request, now_s)
                swap_tokens += request.swapped_tokens
                request.swapped_tokens = 0
            cached = request.num_computed_tokens
            if tokens > request.num_tokens - cached:  # a prefix hit left less to compute
                tokens = request.num_tokens - cached
            prefill_tokens += tokens
            need = -(-(cached + tokens) // kv.block_size) - request.kv_blocks
            if need > 0:
                new_blocks += need
                request.kv_blocks += need
            prefills.append((request, tokens))
            chunks.append((tokens, cached))
        explicit_decodes = len(prefills) < len(step.tokens)
        if explicit_decodes and not step.decode:
            self._sit_out(step.tokens)
        self._prefills = prefills
        self._decodes = (step.decode or explicit_decodes) and decoding.count > 0
        decode_count = context_sum = context_max = 0
        if self._decodes:
            new_blocks += decoding.blocks_needed()
            decode_count = decoding.count
            context_sum = decoding.context_sum()
            context_max = decoding.longest_context()
        kv.allocate(new_blocks)  # at once, after every admission took its cached prefix
        if self.prefix_cache is not None:
            for request, tokens in prefills:
                self.prefix_cache.register(request, request.num_computed_tokens + tokens)
        shape = step.shape
        if (shape is None and len(chunks) == 1 and not swap_tokens and self._price_chunk
                and prefill_tokens >= 1):
            # one prompt chunk beside the decodes (most prompt steps): priced from its numbers
            # (the cost model's same float), extent as step_extent gives it
            cached = chunks[0][1]
            duration_s = self._price_chunk(prefill_tokens, cached, decode_count, context_sum,
                                           context_max)
            seqs = decode_count + 1
            extent = (context_sum + decode_count + prefill_tokens + cached,
                      context_max + 1 if decode_count else 0, prefill_tokens + cached)
        else:
            if shape is None:
                shape = StepShape(tuple(chunks), decode_count, context_sum, context_max,
                                  swap_tokens)
                seqs = len(chunks) + decode_count
            else:  # the policy's own composition (static batching's padded prompts)
                prefill_tokens, decode_count, seqs = (shape.prefill_tokens, shape.decode_count,
                                                      shape.num_seqs)
            duration_s = self.cost_model.step_time_s(shape)
            extent = step_extent(shape)
        self._run_times_s = None
        self._last_start_s = now_s
        self.busy_s += duration_s
        self._step_row = self.recorder.step(self.index, now_s, duration_s, prefill_tokens,
                                            decode_count, seqs, self, extent)
        return duration_s

    def _sit_out(self, tokens: dict) -> None:
        """Take the decoding requests a step leaves out of the decoding set until it ends."""
        decoding = self.decoding
        for request in decoding.members():
            if request not in tokens:
                decoding.sync(request)
                decoding.leave(request)
                self._sitting_out.append(request)

    def _begin_decode_run(self, batch: Step, now_s: float, horizon_s: float,
                          max_steps: int | None) -> float:
        decoding = self.decoding
        step, members = decoding.step, decoding.count
        limit = decoding.next_finish_step() - step + 1
        if max_steps is not None and max_steps < limit:
            limit = max_steps
        free_blocks = self.kv.free_blocks
        if members * (limit // decoding.block_size + 1) > free_blocks:  # else every step fits
            limit = steps_with_blocks(decoding.phase_counts, step, limit, members, free_blocks)
        cached = self.kv.cached_blocks
        if cached and self.waiting and members * (limit // decoding.block_size + 1) > free_blocks - cached:
            # a step that takes blocks past the empty ones evicts cached blocks a waiting prompt
            # may hit, and a shorter hit can let its chunk fit: the policy's input changed, so
            # the run ends with that step
            limit = steps_before_eviction(decoding.phase_counts, step, limit, members, free_blocks - cached)
        shape = batch.shape
        if shape is None:
            count, total = members, decoding.offset_sum + members * step  # the context sum
            longest = decoding.longest_context()
            first_s = self._price_decode(count, total, longest)
        else:  # the policy's own composition (static batching's padded rows)
            count, total, longest = shape.decode_count, shape.decode_context_sum, shape.decode_context_max
            first_s = self.cost_model.step_time_s(shape)
        times_s = run_step_times(self.cost_model, self._price_decode, count, total, longest,
                                 first_s, now_s, horizon_s, limit)
        duration_s = self._take_decode_steps(now_s, times_s, first_s, step, members, count, total, longest)
        self._run_times_s = times_s
        self._last_start_s = now_s + duration_s - float(times_s[-1])
        self._run_start_s = now_s
        return duration_s

    def _take_decode_steps(self, now_s: float, times_s, first_s: float, step: int, members: int,
                           count: int, total: int, longest: int) -> float:
        """Allocate the KV blocks of a priced run of decode steps from ``step``, add its time to
        the busy time and record it as one row; returns its duration in seconds."""
        steps = len(times_s)
        self.kv.allocate(blocks_for_steps(self.decoding.phase_counts, step, steps, members))
        if steps == 1:
            duration_s = first_s
        elif isinstance(times_s, list):
            duration_s = sum(times_s)
        else:
            duration_s = float(times_s.sum())
        self.busy_s += duration_s
        self._step_row = self.recorder.decode_step(self.index, now_s, duration_s, steps, count,
                                                   members * steps, self.policy.slots, self,
                                                   total, longest)
        return duration_s

    def _price_decode_shape(self, count: int, total: int, longest: int) -> float:
        return self.cost_model.step_time_s(StepShape((), count, total, longest))

    def finish_step(self, end_s: float) -> int:
        """Record the tokens the step (or run) begun last produced, ending at ``end_s``;
        return the count."""
        self.clock_s = end_s
        if self._chunk_run is not None:
            return self._finish_chunk_run(end_s)
        if self._drain is not None:  # decode-only rows got their sampled count when they began
            return self._finish_drain(end_s)
        if self._run_times_s is not None:
            return self._finish_decode(end_s, self._run_times_s)
        if self._run_done:  # a run past finishes that ended with its last finish
            self._run_done = False
            return 0
        sampled = 0
        if self._decodes:
            sampled += self._finish_decode(end_s, None)
        if self._sitting_out:
            for request in self._sitting_out:
                self.decoding.join(request)
            self._sitting_out = []
        for request, tokens in self._prefills:
            request.num_computed_tokens += tokens
            if request.num_computed_tokens == request.prompt_tokens + request.num_generated:
                sampled += 1
                self._sample_after_prefill(request, end_s)
        self.recorder.sampled(self._step_row, sampled, self.policy.slots)
        return sampled

    def _finish_decode(self, end_s: float, times_s) -> int:
        decoding = self.decoding
        decoded = decoding.count
        steps = 1 if times_s is None else len(times_s)
        first_end_s = end_s if steps == 1 else self._run_start_s + times_s[0]
        if decoding.joined or decoding.last_end_s is None:
            self._record_first_gaps(first_end_s, decoded)
        else:  # the usual case, inlined: every member took part in the last decode step
            self.recorder.itl(first_end_s - decoding.last_end_s, decoded)
        if steps > 1:
            self.recorder.itl_run(times_s[1:], decoded)
        decoding.last_end_s = end_s
        decoding.step += steps
        heap = decoding.finish_heap
        if heap and heap[0][0] < decoding.step:  # someone may finish (else pop_finished is empty)
            for request in decoding.pop_finished(decoding.step - 1):
                decoding.sync(request)
                decoding.leave(request)
                self._finish(request, end_s)
        return decoded * steps

    def _record_first_gaps(self, first_end_s: float, decoded: int) -> None:
        """Gaps to the first step of a decode run: since the last decode step for members that
        took part in it, since their own last token for members that joined after it."""
        decoding = self.decoding
        joined = decoding.joined
        if decoding.last_end_s is not None:
            self.recorder.itl(first_end_s - decoding.last_end_s, decoded - len(joined))
        for request in joined:
            if decoding.synced_at(request) == decoding.step:
                self.recorder.itl(first_end_s - request.last_token_s, 1)
        decoding.joined = []

    def _sample_after_prefill(self, request: Request, end_s: float) -> None:
        request.num_generated += 1
        if request.first_token_s is None:
            request.first_token_s = end_s
        else:  # a token after recompute or swap-in: its gap counts as inter-token latency
            self.recorder.itl(end_s - request.last_token_s, 1)
        request.last_token_s = end_s
        if request.done:
            self._finish(request, end_s)
        else:
            del self.prefilling[request]
            self.decoding.join(request)

    # ----- lifecycle ----------------------------------------------------------------------
    def _admit(self, request: Request, now_s: float) -> None:
        if self.waiting and self.waiting[0] is request:
            self.waiting.popleft()
        else:
            self.waiting.remove(request)
        request.status = RUNNING
        if self.prefix_cache is not None and not request.num_computed_tokens \
                and not request.swapped_tokens:
            self.prefix_cache.admit(request)  # its cached prefix counts as computed
        if request.admitted_s is None:
            request.admitted_s = now_s
        self.running[request] = None
        self.prefilling[request] = None

    def _release_blocks(self, request: Request) -> None:
        if self.prefix_cache is None:
            self.kv.release(request.kv_blocks)
        else:
            self.prefix_cache.release(request)
        request.kv_blocks = 0

    def _finish(self, request: Request, end_s: float) -> None:
        self._release_blocks(request)
        request.status, request.finish_s = FINISHED, end_s
        del self.running[request]
        self.prefilling.pop(request, None)
        self.recorder.request_done(request)

    def _preempt(self, request: Request) -> int:
        """Evict a running request to the front of the queue; return tokens swapped out."""
        if request in self.decoding:
            self.decoding.sync(request)
            self.decoding.leave(request)
        self._release_blocks(request)
        swapped = 0
        if self.swap_preemption:
            swapped = request.swapped_tokens = request.num_computed_tokens
        else:
            request.num_computed_tokens = 0
        request.status = WAITING
        request.preemptions += 1
        del self.running[request]
        self.prefilling.pop(request, None)
        self.waiting.appendleft(request)
        self.recorder.preempted(self.index)
        return swapped
