"""What one forward step computes (``StepShape``) and what a policy asks for (``Step``).

A ``StepShape`` is the whole input of a cost model: the prefill chunks with their token counts and
the context already cached before each chunk, and the decode sequences summarised by count, sum
and maximum of their cached context. Decode attention reads each sequence's KV once, so its cost
is additive over sequences and the sum of context lengths prices a skewed batch correctly; the
maximum is there for kernels whose time is set by the longest sequence.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from batchsim.simulator.request import Request


@dataclass(frozen=True, slots=True)
class StepShape:
    """Composition of one forward step, in tokens."""

    prefill_chunks: tuple[tuple[int, int], ...] = ()  # (new tokens, tokens already cached)
    decode_count: int = 0  # sequences computing exactly one new token
    decode_context_sum: int = 0  # sum over decode sequences of tokens already cached
    decode_context_max: int = 0
    swap_tokens: int = 0  # KV tokens copied between GPU and host memory in this step

    def __post_init__(self) -> None:
        if self.decode_count < 0 or self.decode_context_sum < 0 or self.swap_tokens < 0:
            raise ValueError("StepShape counts must be non-negative")
        for new, cached in self.prefill_chunks:  # a loop: built on every simulated step
            if new < 1 or cached < 0:
                raise ValueError("prefill chunks need new >= 1 and cached >= 0 tokens")

    @property
    def prefill_tokens(self) -> int:
        """New tokens computed by prefill chunks."""
        return sum(new for new, _ in self.prefill_chunks)

    @property
    def num_tokens(self) -> int:
        """All tokens whose hidden states this step computes."""
        return self.prefill_tokens + self.decode_count

    @property
    def num_seqs(self) -> int:
        """Sequences in the step."""
        return len(self.prefill_chunks) + self.decode_count

    @property
    def is_empty(self) -> bool:
        """True when the step computes nothing."""
        return self.num_tokens == 0 and self.swap_tokens == 0


def step_extent(shape: StepShape) -> tuple[int, int, int]:
    """(KV tokens the step reads, longest decode context with its new token, longest prefill
    context): the steps table's range columns (``simulator.measured_range``)."""
    kv = shape.decode_context_sum + shape.decode_count
    longest_prefill = 0
    for new, cached in shape.prefill_chunks:
        kv += new + cached
        if new + cached > longest_prefill:
            longest_prefill = new + cached
    decode_context = shape.decode_context_max + 1 if shape.decode_count else 0
    return kv, decode_context, longest_prefill


@dataclass(slots=True)
class Step:
    """A policy's decision for the next step of one replica, as vLLM v1 frames it.

    ``tokens`` maps each request that runs to the tokens it computes in this step (a waiting
    request is admitted by being listed); ``decode`` adds one token for every decoding request
    not listed (the common decode share, kept implicit so that a step of a large batch costs
    O(1) to state); ``preempt`` lists running requests to evict before the step (recompute or
    swap, by the replica's mode). A decoding request neither listed nor covered by ``decode``
    sits the step out. ``shape`` replaces the natural composition when the engine computes
    more than the requests need (padding in static batching); ``wake_at_s`` tells an idle
    replica when to ask again even if nothing arrives.

    Two promises let the replica run identical decode-only steps as one event:
    ``ignores_arrivals`` on a decode-only step says requests arriving while it repeats cannot
    change the policy's choice until the decoding set changes or KV blocks run short, so the
    replica may repeat it past arrivals; ``drain`` on a decode-only step with a ``shape`` says
    the same padded step repeats until every decoding request has finished (static batching).
    Without either, the replica still repeats a decode-only step up to the next arrival that
    may reach it, the next finish, the last step whose blocks fit and, while requests wait, the
    first step that evicts a cached prefix block (a shorter hit can let a waiting prompt in):
    nothing else can change a policy's input in between.

    ``chunk_run`` lets the replica do the same for prompt chunks: on a step whose ``tokens``
    hold a single chunk of a running request's prompt (no admission, no preemption, no
    ``shape``) that leaves part of the prompt to compute, it says the policy would choose the
    same step again (the same chunk size of the same request, every decoding request one
    token) for as long as the chunk still leaves part of the prompt, no decoding request
    finishes and KV blocks suffice; arrivals cut the run unless ``ignores_arrivals``.

    ``continues_past_finishes`` on a decode-only step (no preemption, no ``shape``) says the
    policy would choose this same step again after any decoding request finishes, provided
    nothing waits, no running request computes its prompt, someone still decodes and the next
    decode step's KV blocks are free. The replica then runs the step through finishes as one
    run and one row (simulator/finish_runs.py); an arrival that may reach the replica still
    ends the run.
    """

    tokens: dict[Request, int] = field(default_factory=dict)
    decode: bool = False
    preempt: list[Request] = field(default_factory=list)
    shape: StepShape | None = None
    wake_at_s: float | None = None
    ignores_arrivals: bool = False
    drain: bool = False
    chunk_run: bool = False
    continues_past_finishes: bool = False

    @property
    def is_idle(self) -> bool:
        """True when the step runs nothing."""
        return not self.tokens and not self.decode and not self.preempt
