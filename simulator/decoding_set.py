"""A replica's decoding set, kept lazily so that a decode step costs O(1), not O(batch size).

The set records, privately, the decode-step index at which each member joined (or was last
synced); a member's token counts advance implicitly with ``step`` until ``sync`` writes them, so
the replica syncs a member before anyone reads it. Aggregates kept per step:
member count, the sum of (cached tokens - join step), whose value plus count x step is the
context sum, a histogram of that quantity modulo the block size (a member needs a new KV block
exactly when its cached length is a multiple of the block size), and heaps for the next finish
and the longest context, cleaned lazily (an entry is live while its serial number is the one
the member joined with). Sizes are tokens and KV blocks, times seconds.
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
        self._finish_heap: list[tuple[int, int, Request]] = []
        self.finish_heap = self._finish_heap  # read-only alias: (last step, serial, request) entries
        self._context_heap: list[tuple[int, int, Request]] = []
        self._serial = 0
        self._members: dict[Request, list[int]] = {}  # member -> [step synced at, serial]
        self.members_by_request = self._members  # read-only alias: ``in`` without a call

    def __contains__(self, request: Request) -> bool:
        return request in self._members

    def synced_at(self, request: Request) -> int:
        """Decode step at which a member's counters were last written."""
        return self._members[request][0]


    def context_sum(self) -> int:
        """Cached tokens over all members before the next step."""
        return self.offset_sum + self.count * self.step

    def longest_context(self) -> int:
        """Cached tokens of the longest member (0 if none)."""
        heap, members = self._context_heap, self._members
        while heap:
            offset, serial, request = heap[0]
            entry = members.get(request)
            if entry is not None and entry[1] == serial:
                return -offset + self.step
            heapq.heappop(heap)
        return 0

    def blocks_needed(self) -> int:
        """New KV blocks the next decode step of every member needs."""
        return self.phase_counts[-self.step % self.block_size]

    def sync(self, request: Request) -> None:
        """Write a member's implicit progress (tokens, KV blocks, last token time)."""
        entry = self._members.get(request)
        if entry is not None and entry[0] != self.step:
            steps = self.step - entry[0]
            request.num_generated += steps
            request.num_computed_tokens += steps
            request.kv_blocks = -(-request.num_computed_tokens // self.block_size)
            request.last_token_s = self.last_end_s
            entry[0] = self.step  # the offset (computed - synced step) is unchanged

    def join(self, request: Request) -> None:
        """Add a request whose prompt is computed and whose next token is a decode."""
        self._serial += 1
        self._members[request] = [self.step, self._serial]
        self.count += 1
        offset = request.num_computed_tokens - self.step
        self.offset_sum += offset
        self.phase_counts[offset % self.block_size] += 1
        last_step = self.step + request.output_tokens - request.num_generated - 1
        heapq.heappush(self._finish_heap, (last_step, self._serial, request))
        heapq.heappush(self._context_heap, (-offset, self._serial, request))
        self.joined.append(request)
        if len(self._context_heap) > 2 * self.count + 64:
            self._drop_stale_contexts()

    def _drop_stale_contexts(self) -> None:
        # Entries of members that left stay until they reach the top; short contexts under a
        # long one never do. Rebuilding when stale entries outnumber live ones keeps the heap
        # (and the finished requests it refers to) proportional to the set, at O(1) amortized.
        members = self._members
        live = [entry for entry in self._context_heap
                if (members.get(entry[2]) or (0, -1))[1] == entry[1]]
        heapq.heapify(live)
        self._context_heap = live

    def leave(self, request: Request) -> None:
        """Remove a synced member (finished or preempted)."""
        offset = request.num_computed_tokens - self._members.pop(request)[0]
        self.count -= 1
        self.offset_sum -= offset
        self.phase_counts[offset % self.block_size] -= 1
        if request in self.joined:
            self.joined.remove(request)

    def next_finish_step(self) -> int:
        """Index of the decode step in which the first member samples its last token."""
        heap, members = self._finish_heap, self._members
        while heap:
            last_step, serial, request = heap[0]
            entry = members.get(request)
            if entry is not None and entry[1] == serial:
                return last_step
            heapq.heappop(heap)
        return self.step

    def pop_finished(self, last_step: int) -> list[Request] | tuple[()]:
        """Members whose last token comes at or before decode step ``last_step``."""
        heap = self._finish_heap
        if not heap or heap[0][0] > last_step:  # the usual case: nobody finishes
            return ()
        done, members = [], self._members
        while heap and heap[0][0] <= last_step:
            _, serial, request = heapq.heappop(heap)
            entry = members.get(request)
            if entry is not None and entry[1] == serial:
                done.append(request)
        return done

    def members(self) -> list[Request]:
        """Every member, in no particular order."""
        return list(self._members)

    def forget_stale(self) -> None:
        """Drop heap entries once the set is empty (they can only be stale)."""
        if not self.count:
            self._finish_heap.clear()
            self._context_heap.clear()
