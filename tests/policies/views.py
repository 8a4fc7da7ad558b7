"""Hand-built replica views: the state a policy reads, without a simulator behind it."""
from __future__ import annotations

from batchsim.simulator.request import RUNNING, Request


def prompt(request_id: int, prompt_tokens: int, output_tokens: int = 10) -> Request:
    """A waiting request with nothing computed."""
    return Request(request_id, 0.0, prompt_tokens, output_tokens)


def running(request_id: int, prompt_tokens: int, computed: int, generated: int = 0,
            output_tokens: int = 10, block_size: int = 16) -> Request:
    """A running request with ``computed`` tokens in KV and ``generated`` tokens sampled."""
    request = Request(request_id, 0.0, prompt_tokens, output_tokens, status=RUNNING,
                      num_generated=generated, num_computed_tokens=computed)
    request.kv_blocks = -(-computed // block_size)
    return request


class HandView:
    """The read-only replica view (simulator/view.py), built from lists."""

    def __init__(self, running=(), waiting=(), free_blocks=10_000, block_size=16,
                 watermark_blocks=0, prefix_hits=None):
        self._running = list(running)  # admission order
        self.waiting = list(waiting)
        self.free_blocks = free_blocks
        self.block_size = block_size
        self.watermark_blocks = watermark_blocks
        self._hits = prefix_hits or {}  # request -> (hit tokens, evictable blocks)

    @property
    def running(self):
        return iter(self._running)

    def running_newest_first(self):
        return reversed(self._running)

    @property
    def num_running(self):
        return len(self._running)

    @property
    def prefilling(self):
        return [r for r in self._running if r.tokens_to_compute > 1]

    def is_decoding(self, request):
        return request in self._running and request.tokens_to_compute == 1

    @property
    def num_decoding(self):
        return sum(self.is_decoding(r) for r in self._running)

    def decode_blocks_needed(self):
        return sum(self.blocks_for(r.num_computed_tokens + 1) - r.kv_blocks
                   for r in self._running if self.is_decoding(r))

    def blocks_for(self, tokens):
        return -(-tokens // self.block_size)

    def blocks_freed_by(self, request):
        return request.kv_blocks

    def prefix_hit(self, request):
        return self._hits.get(request, (0, 0))
