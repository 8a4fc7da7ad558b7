"""Continuous batching with chunked prefill (Sarathi-Serve; vLLM's enable-chunked-prefill).

Each step has a token budget ``max_num_batched_tokens``. Decodes are scheduled first (one token
per decoding request; the newest running requests are preempted if their blocks do not fit),
then partially prefilled requests continue in admission order, then waiting requests are
admitted in arrival order, each taking a prompt chunk of at most the remaining budget. A step
never computes more tokens than the budget, so a long prompt cannot stall decodes for more than
one budget's worth of work.
"""
from __future__ import annotations

from batchsim.policies.continuous import preempt_for_decode
from batchsim.simulator.step import Step

IDLE = Step()
# shared: the replica only reads steps. Returned only when nothing waits; after a finish, with
# nothing waiting or prefilling and the next decode step's blocks free, this policy reads nothing
# that changed and returns it again (Step.continues_past_finishes)
DECODE = Step(decode=True, continues_past_finishes=True)
DECODE_IGNORING_ARRIVALS = Step(decode=True, ignores_arrivals=True)


class ChunkedPrefillPolicy:
    """Decode-first, budget-filling chunked prefill."""

    KNOBS = ("max_num_seqs", "max_num_batched_tokens")  # the ServingConfig fields from_config reads

    def __init__(self, max_num_seqs: int, max_num_batched_tokens: int) -> None:
        if max_num_seqs < 1 or max_num_batched_tokens < 1:
            raise ValueError("max_num_seqs and max_num_batched_tokens must be at least 1")
        if max_num_batched_tokens < max_num_seqs:
            raise ValueError(f"max_num_batched_tokens {max_num_batched_tokens} is below "
                             f"max_num_seqs {max_num_seqs}: decodes alone could exceed the budget")
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.slots = max_num_seqs

    @classmethod
    def from_config(cls, config) -> "ChunkedPrefillPolicy":
        """Build from a ServingConfig."""
        return cls(config.max_num_seqs, config.max_num_batched_tokens)

    def admission_error(self, request) -> str | None:
        """Chunking serves any prompt the KV cache holds."""
        return None

    def schedule(self, state, now_s: float) -> Step:
        """Decodes first, then prompt chunks up to the token budget."""
        decodes = state.num_decoding
        need = state.decode_blocks_needed() if decodes else 0
        free = state.free_blocks
        preempt = preempt_for_decode(state) if need > free else []
        free -= need
        if preempt:
            evicted = set(preempt)
            decoding_victims = [r for r in preempt if state.is_decoding(r)]
            decodes -= len(decoding_victims)
            free += sum(state.blocks_freed_by(r) for r in preempt)
            free += sum(state.blocks_for(r.num_computed_tokens + 1) - r.kv_blocks
                        for r in decoding_victims)
        else:
            evicted = ()
        budget = self.max_num_batched_tokens - decodes
        prefill = {}
        for request in state.prefilling:
            if budget <= 0:
                break
            if request in evicted:
                continue
            chunk = min(request.tokens_to_compute, budget)
            blocks = state.blocks_for(request.num_computed_tokens + chunk) - request.kv_blocks
            if blocks > free:
                break
            prefill[request] = chunk
            budget -= chunk
            free -= blocks
        if budget <= 0 and len(prefill) == 1 and not preempt:
            (request, chunk), = prefill.items()
            if chunk < request.tokens_to_compute:
                # the chunk takes the whole budget and leaves part of the prompt: the same step
                # repeats until that changes, whatever arrives (see Step.chunk_run)
                return Step(tokens=prefill, decode=decodes > 0, ignores_arrivals=True,
                            chunk_run=True)
        if not preempt and state.waiting:
            admitted_alone = not state.prefilling  # nothing else computes a prompt
            budget, rest = self._admit(state, prefill, budget, free)
            if admitted_alone and len(prefill) == 1 and rest > 0:
                # a prompt admitted alone whose chunk takes the whole budget and leaves part of
                # it: the running-chunk step above comes next, whatever arrives (Step.chunk_run)
                return Step(tokens=prefill, decode=decodes > 0, ignores_arrivals=True,
                            chunk_run=True)
        if not prefill and not preempt:
            if not decodes:
                return IDLE
            # as in continuous batching, a blocked queue head stays blocked while decodes repeat
            # (up to an eviction of a block it hits, where the replica ends the run)
            return DECODE_IGNORING_ARRIVALS if state.waiting else DECODE
        return Step(tokens=prefill, decode=decodes > 0, preempt=preempt,
                    ignores_arrivals=bool(state.waiting))

    def _admit(self, state, prefill: dict, budget: int, free: int) -> tuple[int, int]:
        """Add prompt chunks of waiting requests, in arrival order, to ``prefill``; return the
        budget left and the prompt tokens the last one admitted leaves for later steps."""
        seqs = state.num_running
        watermark, block_size = state.watermark_blocks, state.block_size
        rest = 0
        for request in state.waiting:
            if budget <= 0 or seqs >= self.max_num_seqs:
                break
            hit, cached_free = state.prefix_hit(request)  # (0, 0) without prefix caching
            computed = request.num_computed_tokens + hit
            chunk = min(request.num_tokens - computed, budget)
            blocks = state.blocks_for(computed + chunk) - hit // block_size + cached_free
            if free - blocks < watermark:
                break
            prefill[request] = chunk
            rest = request.num_tokens - computed - chunk
            budget -= chunk
            free -= blocks
            seqs += 1
        return budget, rest
