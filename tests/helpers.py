"""Builders shared by the tests: requests, a hand-computable cost model, a one-call simulator."""
from __future__ import annotations

from batchsim.simulator.cost import MemoryFacts
from batchsim.simulator.request import Request
from batchsim.simulator.simulation import ReplicaSetup, simulate
from batchsim.simulator.step import StepShape


def make_requests(prompts, outputs, arrivals=None) -> list[Request]:
    """Requests with the given prompt and output lengths, arriving at 0 unless told."""
    arrivals = arrivals or [0.0] * len(prompts)
    return [Request(i, a, p, o) for i, (a, p, o) in enumerate(zip(arrivals, prompts, outputs))]


class LinearCost:
    """step = base + per prefill token + per decode sequence + per cached context token."""

    def __init__(self, base_s=0.01, prefill_token_s=0.0, decode_seq_s=0.0, context_token_s=0.0):
        self.base_s, self.prefill_token_s = base_s, prefill_token_s
        self.decode_seq_s, self.context_token_s = decode_seq_s, context_token_s
        self.memory = MemoryFacts(10**12, 0, 1)
        self.shapes: list[StepShape] = []

    def step_time_s(self, shape: StepShape) -> float:
        self.shapes.append(shape)
        context = shape.decode_context_sum + sum(c for _, c in shape.prefill_chunks)
        return (self.base_s + self.prefill_token_s * shape.prefill_tokens
                + self.decode_seq_s * shape.decode_count + self.context_token_s * context)


class RecordingPolicy:
    """Wraps a policy and logs every non-idle batch it returns with the time it was asked."""

    def __init__(self, inner):
        self.inner, self.log = inner, []
        self.slots = inner.slots

    def admission_error(self, request):
        return self.inner.admission_error(request)

    def schedule(self, state, now_s):
        batch = self.inner.schedule(state, now_s)
        if not batch.is_idle:
            self.log.append((now_s, [(r.request_id, n) for r, n in batch.tokens.items()], batch.decode,
                             state.num_decoding if batch.decode else 0,
                             [r.request_id for r in batch.preempt]))
        return batch


def run(requests, policy, cost=None, kv_blocks=10_000, block_size=16, watermark_blocks=0,
        max_model_len=100_000, replicas=1, router="round-robin", swap=False, max_run_steps=None,
        prefix_caching=False, prefix_block_tokens=None):
    """Simulate with a fresh policy per replica (``policy`` is a zero-argument factory)."""
    setup = ReplicaSetup(policy, cost or LinearCost(), kv_blocks, block_size, watermark_blocks,
                         max_model_len, swap, prefix_caching, prefix_block_tokens)
    return simulate(requests, setup, replicas, router, max_run_steps)
