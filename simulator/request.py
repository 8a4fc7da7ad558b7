"""A request's identity and its lifecycle state inside one replica.

Token accounting follows vLLM v1: a request holds ``num_tokens`` (prompt plus tokens generated
so far) and ``num_computed_tokens`` (tokens whose KV entries exist). A step computes some of the
missing tokens; when a step brings ``num_computed_tokens`` up to ``num_tokens`` the model samples
one new token. Prefill, chunked prefill, decode and recompute after preemption are all that rule.
Times are seconds from the trace origin.
"""
from __future__ import annotations

from dataclasses import dataclass

WAITING = "waiting"
RUNNING = "running"
FINISHED = "finished"
REJECTED = "rejected"


@dataclass(slots=True, eq=False)
class Request:
    """One inference request and its progress through a replica."""

    request_id: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    prefix_block_ids: tuple[int, ...] | None = None

    status: str = WAITING
    reason: str = ""
    num_generated: int = 0
    num_computed_tokens: int = 0
    kv_blocks: int = 0
    preemptions: int = 0
    admitted_s: float | None = None
    first_token_s: float | None = None
    last_token_s: float | None = None
    finish_s: float | None = None
    replica: int = -1
    swapped_tokens: int = 0  # KV tokens held in host memory after a swap preemption

    @property
    def num_tokens(self) -> int:
        """Prompt tokens plus tokens generated so far."""
        return self.prompt_tokens + self.num_generated

    @property
    def tokens_to_compute(self) -> int:
        """Tokens that must be computed before the next token can be sampled."""
        return self.num_tokens - self.num_computed_tokens

    @property
    def in_prefill(self) -> bool:
        """True while more than one token is missing (prompt or recompute pending)."""
        return self.num_tokens - self.num_computed_tokens > 1

    @property
    def done(self) -> bool:
        """True once every requested output token has been generated."""
        return self.num_generated >= self.output_tokens
