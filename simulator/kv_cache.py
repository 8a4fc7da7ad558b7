"""Paged KV-cache accounting for one replica, in blocks of ``block_size`` tokens.

The manager counts blocks; which request holds how many is kept by the replica (decoding
requests grow lazily, see simulator/replica.py). With prefix caching, blocks no request holds
may still keep cached content (``cached_blocks``, see simulator/prefix_cache.py): they count as
free, and an allocation that finds no empty block evicts some through ``evict``.
Invariant: 0 <= used_blocks and used_blocks + cached_blocks <= total_blocks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(slots=True)
class BlockManager:
    """Free/used block counts with a watermark held back from new admissions."""

    total_blocks: int
    block_size: int
    watermark_blocks: int = 0
    used_blocks: int = 0
    peak_used_blocks: int = 0
    cached_blocks: int = 0  # free blocks that keep cached content until evicted
    evict: Callable[[int], None] | None = None  # drops that many cached blocks, LRU first

    def __post_init__(self) -> None:
        if self.block_size < 1:
            raise ValueError("block_size must be at least 1")
        if self.total_blocks < 0 or not 0 <= self.watermark_blocks <= self.total_blocks:
            raise ValueError("KV capacity and watermark must satisfy 0 <= watermark <= total")

    @property
    def free_blocks(self) -> int:
        """Blocks not held by any request (cached ones included: they can be evicted)."""
        return self.total_blocks - self.used_blocks

    @property
    def usage(self) -> float:
        """Fraction of blocks in use."""
        return self.used_blocks / self.total_blocks if self.total_blocks else 0.0

    def blocks_for(self, tokens: int) -> int:
        """Blocks that hold ``tokens`` KV entries."""
        return -(-tokens // self.block_size)

    def can_admit(self, blocks: int) -> bool:
        """True if a new request may take ``blocks`` and leave the watermark free."""
        return self.free_blocks - blocks >= self.watermark_blocks

    def allocate(self, blocks: int) -> None:
        """Take ``blocks``, evicting cached ones if no empty block is left; running out is a
        scheduling bug, not a user error."""
        if blocks > self.free_blocks:
            raise RuntimeError(f"KV cache over-allocated: need {blocks}, free {self.free_blocks}")
        self.used_blocks += blocks
        if self.used_blocks > self.peak_used_blocks:
            self.peak_used_blocks = self.used_blocks
        overflow = self.used_blocks + self.cached_blocks - self.total_blocks
        if overflow > 0:
            self.evict(overflow)

    def release(self, blocks: int) -> None:
        """Return ``blocks`` (their content is not kept)."""
        if blocks > self.used_blocks:
            raise RuntimeError(f"KV cache over-released: {blocks} > {self.used_blocks}")
        self.used_blocks -= blocks
