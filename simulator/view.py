"""The read-only view of one replica that a policy schedules from.

Everything a policy reads is current: a request reached through ``running`` or ``waiting`` has
up-to-date ``num_computed_tokens``, ``num_generated`` and ``kv_blocks``, however lazily the
replica advances its decoding requests (see simulator/decoding_set.py; the view syncs a
decoding request as it hands it out). Aggregates (``num_decoding``, ``decode_blocks_needed``)
answer in O(1) so that a policy can schedule the common decode share without walking the batch.
Sizes are tokens and KV blocks.
"""
from __future__ import annotations

from collections.abc import Iterator

from batchsim.simulator.request import Request

NO_HIT = (0, 0)


class ReplicaView:
    """What a policy may read about one replica; it changes nothing."""

    __slots__ = ("_replica", "_kv", "_decoding", "_cache", "waiting", "prefilling")

    def __init__(self, replica) -> None:
        self._replica = replica
        self._kv, self._decoding, self._cache = replica.kv, replica.decoding, replica.prefix_cache
        # Waiting requests, first to be admitted first (a recomputed preemption at the front).
        self.waiting = replica.waiting
        # Running requests still computing their prompt (or a recompute), in admission order.
        self.prefilling = replica.prefilling

    @property
    def num_running(self) -> int:
        """Requests admitted and not finished."""
        return len(self._replica.running)

    @property
    def running(self) -> Iterator[Request]:
        """Running requests in admission order, oldest first, each with current counters."""
        sync = self._replica.decoding.sync
        for request in self._replica.running:
            sync(request)
            yield request

    def running_newest_first(self) -> Iterator[Request]:
        """Running requests newest first (preemption order), each with current counters."""
        sync = self._replica.decoding.sync
        for request in reversed(self._replica.running):
            sync(request)
            yield request

    def is_decoding(self, request: Request) -> bool:
        """True if ``request`` runs and its next step computes exactly one token."""
        return request in self._decoding.members_by_request

    @property
    def recorder(self):
        """The run's recorder, shared by its replicas (``done``: requests ended so far)."""
        return self._replica.recorder

    # ----- aggregates of the decoding requests ---------------------------------------------
    @property
    def num_decoding(self) -> int:
        """Running requests whose next step computes exactly one token."""
        return self._decoding.count

    def decode_blocks_needed(self) -> int:
        """New KV blocks one decode step of every decoding request needs."""
        decoding = self._decoding
        return decoding.phase_counts[-decoding.step % decoding.block_size]

    # ----- KV cache -----------------------------------------------------------------------
    @property
    def free_blocks(self) -> int:
        """Blocks a new allocation may take (cached blocks nobody holds count as free)."""
        kv = self._kv
        return kv.total_blocks - kv.used_blocks

    @property
    def block_size(self) -> int:
        """Tokens per KV block."""
        return self._kv.block_size

    @property
    def watermark_blocks(self) -> int:
        """Blocks held back from new admissions."""
        return self._kv.watermark_blocks

    def blocks_for(self, tokens: int) -> int:
        """Blocks that hold ``tokens`` KV entries."""
        return -(-tokens // self._kv.block_size)

    def blocks_freed_by(self, request: Request) -> int:
        """Blocks that preempting running ``request`` would make free."""
        return self._replica.blocks_freed_by(request)

    def prefix_hit(self, request: Request) -> tuple[int, int]:
        """(tokens of a waiting request's prompt found in the prefix cache, how many of the
        blocks holding them are free cached blocks that admitting it takes out of the free
        count); (0, 0) without prefix caching or for a request with computed tokens."""
        cache = self._cache
        if cache is None or request.num_computed_tokens or request.swapped_tokens:
            return NO_HIT
        return cache.lookup(request)
