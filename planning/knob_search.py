"""Which static-batching knobs the planner tries, and how it picks among them.

Static batching's two knobs trade latency for batching: a larger ``batch_size`` amortizes each
step over more requests, a positive ``max_wait_s`` lets a batch fill before it starts instead of
dispatching whatever waits whenever the replica is idle (at low load that is a batch of one).
The planner keeps the combination needing the fewest GPUs (ties: the first tried, i.e. the
smaller batch and the shorter wait); a combination that fails at one fewer than the fewest so
far is not searched further (planning.plan._best_knobs). Waits are fractions of the tightest
first-token objective (TTFT, else E2E), since a request may spend its whole wait before its
batch starts: a quarter of the limit leaves three quarters for queueing and the batch's own
prefill. Continuous and chunked batching plan at the knobs given.
"""
from __future__ import annotations

STATIC_BATCH_SIZES = (8, 32)
WAIT_FRACTIONS = (0.0, 0.25)


def static_knob_candidates(objectives, batch_size: int | None = None,
                           max_wait_s: float | None = None) -> list[dict]:
    """Overrides to try; a knob the user set stays at that value."""
    limits = [o.limit_s for o in objectives if o.metric == "ttft"] or \
        [o.limit_s for o in objectives if o.metric == "e2e"]
    if max_wait_s is not None:
        waits = (max_wait_s,)
    elif limits:
        waits = tuple(fraction * min(limits) for fraction in WAIT_FRACTIONS)
    else:
        waits = (0.0,)
    sizes = (batch_size,) if batch_size is not None else STATIC_BATCH_SIZES
    return [{"batch_size": size, "max_wait_s": wait} for size in sizes for wait in waits]
