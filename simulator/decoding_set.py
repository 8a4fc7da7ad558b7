"""A replica's decoding set, kept lazily so that a decode step costs O(1), not O(batch size).

Each member records the decode-step index at which it joined (``decode_start_step``); its token
counts advance implicitly with ``step`` until ``sync`` writes them. Aggregates kept per step:
member count, the sum of (cached tokens - join step), whose value plus count x step is the
context sum, a histogram of that quantity modulo the block size (a member needs a new KV block
exactly when its cached length is a multiple of the block size), and heaps for the next finish
and the longest context, cleaned lazily (an entry is live while the request's ``decode_epoch``
matches and it is still decoding). Sizes are tokens and KV blocks, times seconds.
"""
from __future__ import annotations

import heapq

from batchsim.simulator.request import Request


class DecodingSet:
    """Requests that compute exactly one token per decode step."""

    def __init__(self, block_size: int) -> None:
        self.block_size = block_size
        self.step = 0  # decode steps executed so far: the index of the next one
        self.count = 0
        self.offset_sum = 0  # sum over members of (cached tokens at join - join step)
        self.phase_counts = [0] * block_size  # members by (cached - join step) % block_size
        self.joined: list[Request] = []  # members that joined since the last decode step
        self.last_end_s: float | None = None  # end of the last decode step
        self._finish_heap: list[tuple[int, int, int, Request]] = []
        self._context_heap: list[tuple[int, int, int, Request]] = []
        self._serial = 0

    def context_sum(self) -> int:
        """Cached tokens over all members before the next step."""
        return self.offset_sum + self.count * self.step

    def longest_context(self) -> int:
        """Cached tokens of the longest member (0 if none)."""
        heap = self._context_heap
        while heap:
            _, _, epoch, request = heap[0]
            if request.decode_epoch == epoch and request.decode_start_step >= 0:
                return -heap[0][0] + self.step
            heapq.heappop(heap)
        return 0

    def blocks_needed(self) -> int:
        """New KV blocks the next decode step of every member needs."""
        return self.phase_counts[-self.step % self.block_size]

    def needs_block(self, request: Request) -> bool:
        """True if member ``request`` needs a new block for the next decode step."""
        offset = request.num_computed_tokens - request.decode_start_step
        return (offset + self.step) % self.block_size == 0

    def sync(self, request: Request) -> None:
        """Write a member's implicit progress (tokens, KV blocks, last token time)."""
        steps = self.step - request.decode_start_step
        if steps and request.decode_start_step >= 0:
            request.num_generated += steps
            request.num_computed_tokens += steps
            request.kv_blocks = -(-request.num_computed_tokens // self.block_size)
            request.last_token_s = self.last_end_s
            request.decode_start_step = self.step  # the offset (computed - start) is unchanged

    def join(self, request: Request) -> None:
        """Add a request whose prompt is computed and whose next token is a decode."""
        request.decode_start_step = self.step
        request.decode_epoch += 1
        self.count += 1
        offset = request.num_computed_tokens - self.step
        self.offset_sum += offset
        self.phase_counts[offset % self.block_size] += 1
        self._serial += 1
        last_step = self.step + request.output_tokens - request.num_generated - 1
        heapq.heappush(self._finish_heap, (last_step, self._serial, request.decode_epoch, request))
        heapq.heappush(self._context_heap, (-offset, self._serial, request.decode_epoch, request))
        self.joined.append(request)
        if len(self._context_heap) > 2 * self.count + 64:
            self._drop_stale_contexts()

    def _drop_stale_contexts(self) -> None:
        # Entries of members that left stay until they reach the top; short contexts under a
        # long one never do. Rebuilding when stale entries outnumber live ones keeps the heap
        # (and the finished requests it refers to) proportional to the set, at O(1) amortized.
        live = [entry for entry in self._context_heap
                if entry[3].decode_epoch == entry[2] and entry[3].decode_start_step >= 0]
        heapq.heapify(live)
        self._context_heap = live

    def leave(self, request: Request) -> None:
        """Remove a synced member (finished or preempted)."""
        offset = request.num_computed_tokens - request.decode_start_step
        self.count -= 1
        self.offset_sum -= offset
        self.phase_counts[offset % self.block_size] -= 1
        request.decode_start_step = -1
        if request in self.joined:
            self.joined.remove(request)

    def next_finish_step(self) -> int:
        """Index of the decode step in which the first member samples its last token."""
        heap = self._finish_heap
        while heap:
            last_step, _, epoch, request = heap[0]
            if request.decode_epoch == epoch and request.decode_start_step >= 0:
                return last_step
            heapq.heappop(heap)
        return self.step

    def pop_finished(self, last_step: int) -> list[Request] | tuple[()]:
        """Members whose last token comes at or before decode step ``last_step``."""
        heap = self._finish_heap
        if not heap or heap[0][0] > last_step:  # the usual case: nobody finishes
            return ()
        done = []
        while heap and heap[0][0] <= last_step:
            _, _, epoch, request = heapq.heappop(heap)
            if request.decode_epoch == epoch and request.decode_start_step >= 0:
                done.append(request)
        return done

    def members(self) -> list[Request]:
        """Every member, in no particular order."""
        return [r for _, _, epoch, r in self._finish_heap
                if r.decode_epoch == epoch and r.decode_start_step >= 0]

    def forget_stale(self) -> None:
        """Drop heap entries once the set is empty (they can only be stale)."""
        if not self.count:
            self._finish_heap.clear()
            self._context_heap.clear()
