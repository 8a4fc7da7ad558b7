"""vLLM v1's scheduler (vllm/v1/core/sched/scheduler.py, kv_cache_manager.py, block_pool.py).

No prefill or decode phase: each request has ``num_tokens`` and ``num_computed_tokens``, and a
step gives requests tokens under a budget of ``max_num_batched_tokens``:

1. Running requests first, in admission order: each gets what it lacks (one token for a
   decode, the rest of a prompt or recompute otherwise), at most
   ``long_prefill_token_threshold`` if that is > 0, at most the budget left. A request whose
   blocks for ``num_computed + new`` tokens cannot be allocated preempts the most recently
   admitted running request (recompute: its computed tokens are dropped and it goes to the
   FRONT of the waiting queue) until they can, or until it preempts itself.
2. Then, only if nothing was preempted, waiting requests first come first served while the
   budget lasts and fewer than ``max_num_seqs`` run: with prefix caching a request with nothing
   computed first takes its cached prefix (never its last token), then gets the rest capped as
   above; it is admitted only if its blocks can be allocated (free blocks, evictable cached ones
   included, cover its new blocks plus the cached blocks it takes out of the free queue), and
   the first one that cannot stops admission (no skipping ahead).

A request whose prompt (or recompute) completes in a step samples its first token in that step;
chunked prefill is always on; no watermark is held back (v1 has none). Defaults as vLLM's:
block 16 tokens, gpu_memory_utilization 0.9, KV blocks from memory unless given, prefix caching
on. Left out: async scheduling and pipeline parallelism (a step never overlaps the next),
speculative decoding and lookahead slots, encoder inputs and multimodal budgets, LoRA limits,
KV connectors (disaggregated prefill, offloading), priority scheduling, structured-output
waits, max_num_partial_prefills, and the max_model_len clamp on new tokens (the replica
rejects requests longer than max_model_len up front).

Speed: when ``long_prefill_token_threshold`` is 0 the running requests still computing their
prompt are always the newest ones (a partial chunk exhausts the budget, so nothing is admitted
after it until it completes), so giving every decoding request its token first and then
walking the prefilling requests gives vLLM's split without walking the batch. With a
threshold, or when blocks run short, the policy walks every running request in order.
"""
from __future__ import annotations

from batchsim.simulator.step import Step

IDLE = Step()
# shared: the replica only reads steps. Returned only when nothing waits; after a finish, with
# nothing waiting or prefilling and the next decode step's blocks free, this policy reads nothing
# that changed and returns it again (Step.continues_past_finishes)
DECODE = Step(decode=True, continues_past_finishes=True)
DECODE_IGNORING_ARRIVALS = Step(decode=True, ignores_arrivals=True)


class VllmV1Policy:
    """vLLM v1 scheduling: running first, then waiting FCFS, preempt newest on KV shortage."""

    KNOBS = ("max_num_seqs", "max_num_batched_tokens", "long_prefill_token_threshold")

    def __init__(self, max_num_seqs: int, max_num_batched_tokens: int,
                 long_prefill_token_threshold: int = 0, walk_running: bool = False) -> None:
        if max_num_seqs < 1 or max_num_batched_tokens < 1:
            raise ValueError("max_num_seqs and max_num_batched_tokens must be at least 1")
        if max_num_batched_tokens < max_num_seqs:
            raise ValueError(f"max_num_batched_tokens {max_num_batched_tokens} is below "
                             f"max_num_seqs {max_num_seqs} (vLLM refuses this too)")
        if long_prefill_token_threshold < 0:
            raise ValueError("long_prefill_token_threshold must be non-negative")
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.long_prefill_token_threshold = long_prefill_token_threshold
        self.walk_running = walk_running  # always walk every running request (for tests)
        self.slots = max_num_seqs

    @classmethod
    def from_config(cls, config) -> "VllmV1Policy":
        """Build from a ServingConfig."""
        return cls(config.max_num_seqs, config.max_num_batched_tokens,
                   config.long_prefill_token_threshold)

    def admission_error(self, request) -> str | None:
        """Chunked prefill serves any prompt the KV cache holds."""
        return None

    def schedule(self, view, now_s: float) -> Step:
        """The next step: running requests' tokens, then admissions."""
        if self.walk_running or self.long_prefill_token_threshold:
            planned = None
        else:
            planned = self._running_in_groups(view)
        if planned is None:
            tokens, preempt, budget, free = self._walk_running(view)
            decode = False
        else:
            tokens, budget, free = planned
            preempt, decode = [], view.num_decoding > 0
        if preempt:
            return Step(tokens=tokens, decode=decode, preempt=preempt,
                        ignores_arrivals=bool(view.waiting))
        listed = len(tokens)
        rest = 0
        if view.waiting:
            rest = self._admit(view, tokens, budget, free, view.num_running)
        if not tokens:
            if not decode:
                return IDLE
            # a waiting head that cannot be admitted stays blocked while decodes repeat: seats
            # and budget stay fixed and free blocks only shrink until some request finishes
            # (an eviction that shortens its prefix hit can let it in: the replica ends the run
            # there, simulator/decode_run.steps_before_eviction)
            return DECODE_IGNORING_ARRIVALS if view.waiting else DECODE
        step = Step(tokens=tokens, decode=decode, ignores_arrivals=bool(view.waiting))
        if len(tokens) == listed:
            if self._repeats(view, tokens, decode, budget):
                step.chunk_run = True
                step.ignores_arrivals = budget <= 0
        elif planned is not None and not listed and len(tokens) == 1 and rest > 0:
            # a prompt admitted alone that leaves part of itself: its chunk took the whole
            # budget (no threshold here), so the next steps give it the same chunk beside every
            # decode, whatever arrives, until that changes (Step.chunk_run)
            step.chunk_run = step.ignores_arrivals = True
        return step

    def _repeats(self, view, tokens: dict, decode: bool, budget: int) -> bool:
        """True if the running requests' tokens (nothing admitted) hold one partial prompt
        chunk and every decoding request's token, and the same step would come again while
        that chunk leaves part of the prompt and nothing finishes (Step.chunk_run): the
        budget left before the chunk stays the same, so the chunk does. Either the chunk
        takes the budget (arrivals cannot change the step) or the queue is empty (arrivals
        end the run: they would be admitted); a queue with budget left is not run, since a
        chunk that fills cached prefix blocks may let its head in."""
        if budget > 0 and view.waiting:
            return False
        num_decoding = view.num_decoding
        if len(tokens) == 1 and (decode or not num_decoding):
            (request, chunk), = tokens.items()
        elif not decode and len(tokens) == num_decoding + 1:  # walked: every decode listed
            chunks = [(r, n) for r, n in tokens.items() if not view.is_decoding(r)]
            if len(chunks) != 1:
                return False
            request, chunk = chunks[0]
        else:
            return False
        return chunk < request.tokens_to_compute and not view.is_decoding(request)

    def _chunk(self, missing: int, budget: int) -> int:
        threshold = self.long_prefill_token_threshold
        if 0 < threshold < missing:
            missing = threshold
        return min(missing, budget)

    def _running_in_groups(self, view):
        """(prefill tokens, budget left, free blocks left) if every decoding request gets its
        token and the prefilling ones follow without preemption; None if blocks run short."""
        budget = self.max_num_batched_tokens - view.num_decoding
        free = view.free_blocks - (view.decode_blocks_needed() if view.num_decoding else 0)
        if free < 0:
            return None
        tokens = {}
        for request in view.prefilling:
            if budget <= 0:
                break
            chunk = self._chunk(request.tokens_to_compute, budget)
            blocks = view.blocks_for(request.num_computed_tokens + chunk) - request.kv_blocks
            if blocks > free:
                return None
            tokens[request] = chunk
            budget -= chunk
            free -= blocks
        return tokens, budget, free

    def _walk_running(self, view):
        """vLLM's running loop request by request: (tokens, preempted, budget, free)."""
        running = list(view.running)
        budget, free = self.max_num_batched_tokens, view.free_blocks
        tokens, preempt = {}, []
        index = 0
        while index < len(running) and budget > 0:
            request = running[index]
            chunk = self._chunk(request.tokens_to_compute, budget)
            blocks = view.blocks_for(request.num_computed_tokens + chunk) - request.kv_blocks
            while blocks > free:
                victim = running.pop()
                preempt.append(victim)
                free += view.blocks_freed_by(victim)
                if victim is request:
                    break
            if preempt and preempt[-1] is request:
                break
            tokens[request] = chunk
            budget -= chunk
            free -= blocks
            index += 1
        return tokens, preempt, budget, free

    def _admit(self, view, tokens: dict, budget: int, free: int, running: int) -> int:
        """Add waiting requests, first come first served, while they fit; return the prompt
        tokens the last one admitted leaves for later steps."""
        block_size = view.block_size
        rest = 0
        for request in view.waiting:
            if budget <= 0 or running >= self.max_num_seqs:
                break
            hit_tokens, evictable = view.prefix_hit(request)
            computed = request.num_computed_tokens + hit_tokens
            chunk = self._chunk(request.num_tokens - computed, budget)
            blocks = view.blocks_for(computed + chunk) - hit_tokens // block_size + evictable
            if blocks > free:
                break
            tokens[request] = chunk
            rest = request.num_tokens - computed - chunk
            budget -= chunk
            free -= blocks
            running += 1
        return rest
