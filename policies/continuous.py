"""Continuous (iteration-level) batching with whole-prompt prefill, as in Orca and vLLM v0.

Every step either prefills newly admitted requests (waiting requests go first, FIFO, while
``max_num_seqs``, the ``max_num_batched_tokens`` budget and free KV blocks allow) or decodes one
token for every running request. Admission keeps the watermark free plus the blocks the next
decode step needs, so an admission can never force the very next step to preempt. When a decode
step lacks blocks, the most recently admitted running requests are preempted until it fits.
"""
from __future__ import annotations

from batchsim.simulator.step import Step

IDLE = Step()
# shared: the replica only reads steps. Returned only when nothing waits; after a finish, with
# nothing waiting or prefilling and the next decode step's blocks free, this policy reads nothing
# that changed and returns it again (Step.continues_past_finishes)
DECODE = Step(decode=True, continues_past_finishes=True)
DECODE_IGNORING_ARRIVALS = Step(decode=True, ignores_arrivals=True)


class ContinuousPolicy:
    """Iteration-level scheduling, prefill-first, preempt newest."""

    KNOBS = ("max_num_seqs", "max_num_batched_tokens")  # the ServingConfig fields from_config reads

    def __init__(self, max_num_seqs: int, max_num_batched_tokens: int) -> None:
        if max_num_seqs < 1 or max_num_batched_tokens < 1:
            raise ValueError("max_num_seqs and max_num_batched_tokens must be at least 1")
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.slots = max_num_seqs

    @classmethod
    def from_config(cls, config) -> "ContinuousPolicy":
        """Build from a ServingConfig."""
        return cls(config.max_num_seqs, config.max_num_batched_tokens)

    def admission_error(self, request) -> str | None:
        """Whole-prompt prefill needs the prompt (and any recompute) inside the token budget."""
        total = request.prompt_tokens + request.output_tokens - 1
        if total > self.max_num_batched_tokens:
            return (f"exceeds max_num_batched_tokens: prompt+output {total + 1} tokens > "
                    f"{self.max_num_batched_tokens} (whole-prompt prefill)")
        return None

    def schedule(self, state, now_s: float) -> Step:
        """A prefill step if anything can be admitted, else a decode step."""
        if state.waiting:
            prefill = self._admit(state)
            if prefill:
                return Step(tokens=prefill)
        if not state.num_decoding:
            return IDLE
        # A waiting head that cannot be admitted now cannot be admitted during the decode run
        # either (seats and budget stay fixed, spare blocks only shrink), and arrivals queue
        # behind it: with a non-empty queue, arrivals cannot change this choice.
        preempt = preempt_for_decode(state)
        if preempt:
            return Step(decode=True, preempt=preempt, ignores_arrivals=bool(state.waiting))
        return DECODE_IGNORING_ARRIVALS if state.waiting else DECODE

    def _admit(self, state) -> dict:
        budget = self.max_num_batched_tokens
        seqs = state.num_running
        spare = state.free_blocks - state.watermark_blocks - state.decode_blocks_needed()
        prefill = {}
        block_size = state.block_size
        for request in state.waiting:
            hit, cached_free = state.prefix_hit(request)  # (0, 0) without prefix caching
            tokens = request.tokens_to_compute - hit
            blocks = (state.blocks_for(request.num_computed_tokens + hit + tokens)
                      - hit // block_size + cached_free)
            if seqs >= self.max_num_seqs or tokens > budget or blocks > spare:
                break
            prefill[request] = tokens
            budget -= tokens
            seqs += 1
            spare -= blocks
        return prefill


def preempt_for_decode(state, free_blocks: int | None = None) -> list:
    """Newest-first running requests to evict so that one decode step has its blocks."""
    need = state.decode_blocks_needed()
    free = state.free_blocks if free_blocks is None else free_blocks
    victims = []
    if need <= free:
        return victims
    for victim in state.running_newest_first():
        if need <= free:
            break
        if state.is_decoding(victim):  # its next token would have needed a block
            need -= state.blocks_for(victim.num_computed_tokens + 1) - victim.kv_blocks
        free += state.blocks_freed_by(victim)
        victims.append(victim)
    return victims
