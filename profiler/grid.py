"""The profiling grid: which steps to time, dense where step time bends and sparse elsewhere.

A ``GridPoint`` is a step composition in tokens: prefill chunks as (new, cached) pairs and decode
groups as (sequences, cached context). Step time bends at small token counts (weight reads
dominate until the GEMMs become compute-bound), so token counts are powers of two at the low end;
contexts are spaced geometrically. Skewed decode batches (many short contexts, a few long) test
that cost follows the actual context lengths, not their mean.

Engine mode adds the load that served runs reach (``serving_points``): hundreds of concurrent
decodes, a quarter of a million KV tokens in one step, mixed steps whose decodes hold 8k-token
contexts, and the steps smaller token budgets make (prompts split into budget-sized chunks over
their cached prefix, decodes plus the chunk that fills the budget). A point's ``budget`` is the
engine's token budget it is timed under (None: the profile's own).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GridPoint:
    """One step composition to time."""

    kind: str  # prefill, decode, skewed or mixed
    chunks: tuple[tuple[int, int], ...] = ()
    decodes: tuple[tuple[int, int], ...] = ()  # (sequences, cached context) groups
    budget: int | None = None  # engine token budget to time it under; None: the profile's own

    @property
    def decode_count(self) -> int:
        """Decoding sequences."""
        return sum(n for n, _ in self.decodes)

    @property
    def num_tokens(self) -> int:
        """New tokens in the step."""
        return sum(new for new, _ in self.chunks) + self.decode_count

    @property
    def kv_tokens(self) -> int:
        """KV tokens resident for the step (cached plus new)."""
        return (sum(new + cached for new, cached in self.chunks)
                + sum(n * (ctx + 1) for n, ctx in self.decodes))


def build_grid(max_batch_tokens: int, max_context: int, max_kv_tokens: int, quick: bool = False,
               cached_multiple: int | None = None, decode_batches: tuple[int, ...] | None = None,
               decode_contexts: tuple[int, ...] | None = None) -> list[GridPoint]:
    """The grid for one model, bounded by the step token budget, context and KV memory.

    An engine that chunks prompts by its step budget only caches multiples of that budget before
    a chunk; ``cached_multiple`` makes the cached-prefill points follow that rule. Given decode
    batches or contexts, every batch meets every context within the bounds (a dense decode grid).
    """
    if quick:
        return _quick_grid(max_batch_tokens, max_context, cached_multiple)
    points = []
    # no prompt longer than the model's context (the rotary table ends there)
    lengths = [n for n in (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192) if n <= min(max_batch_tokens, max_context)]
    points += [GridPoint("prefill", ((n, 0),)) for n in lengths]
    for prompts, length in ((4, 64), (16, 128), (4, 512), (8, 512), (2, 2048), (32, 64)):
        if prompts * length <= max_batch_tokens:
            points.append(GridPoint("prefill", ((length, 0),) * prompts))
    pairs = ((512, 2048), (2048, 2048), (1024, 6144), (4096, 4096), (2048, 12288))
    if cached_multiple:
        pairs = ((512, cached_multiple), (2048, cached_multiple), (cached_multiple, cached_multiple),
                 (1024, 2 * cached_multiple))
    for new, cached in pairs:
        if new <= max_batch_tokens and new + cached <= max_context:
            points.append(GridPoint("prefill", ((new, cached),)))
    points += _decode_points(max_batch_tokens, max_context, max_kv_tokens, decode_batches, decode_contexts)
    for groups in (((15, 64), (1, 4096)), ((28, 256), (4, 4096)), ((56, 128), (8, 2048)),
                   ((120, 256), (8, 4096)), ((8, 512), (8, 2048))):
        if sum(n * (c + 1) for n, c in groups) <= max_kv_tokens and max(c for _, c in groups) < max_context:
            points.append(GridPoint("skewed", decodes=groups))
    for batch in (8, 32, 128):
        for chunk in (128, 512, 2048, max_batch_tokens - batch):
            if 0 < chunk <= min(max_batch_tokens - batch, max_context) and batch * 1025 <= max_kv_tokens:
                points.append(GridPoint("mixed", ((chunk, 0),), ((batch, 1024),)))
    points.append(GridPoint("mixed", ((512, 1024),), ((32, 512),)))
    # cheap kinds first: a time limit then cuts the largest decode batches, not whole kinds
    order = {"prefill": 0, "mixed": 1, "skewed": 2, "decode": 3}
    return sorted(points, key=lambda p: (order[p.kind], p.kv_tokens))


def _decode_points(max_batch_tokens, max_context, max_kv_tokens, batches, contexts) -> list[GridPoint]:
    dense = bool(batches or contexts)
    batches = batches or (1, 2, 4, 8, 16, 32, 64, 128, 256)
    contexts = [c for c in (contexts or (128, 512, 1024, 2048, 4096)) if c < max_context]
    return [GridPoint("decode", decodes=((batch, ctx),)) for batch in batches for ctx in contexts
            if batch * (ctx + 1) <= max_kv_tokens and batch <= max_batch_tokens
            and (dense or batch <= 8 or ctx in (128, 1024, 4096))]


# the serving load of engine mode: (decodes, context) pairs and 8k-context mixed steps
SATURATION_DECODES = ((384, 256), (512, 128), (512, 256), (512, 496))
LONG_CONTEXT_MIXED = (((8, 7680),), 512), (((16, 7680),), 2048), (((32, 7680),), 128)
SATURATION_SKEWED = ((448, 128), (16, 2048))


def serving_points(budget: int, max_context: int, max_kv_tokens: int,
                   small_budgets: tuple[int, ...] = (512, 2048)) -> list[GridPoint]:
    """Engine-mode points of served load under the profile's own ``budget``, and the chunked
    steps of each smaller budget (timed under that budget: only it splits prompts that way)."""
    points = [GridPoint("decode", decodes=((n, ctx),)) for n, ctx in SATURATION_DECODES]
    points.append(GridPoint("skewed", decodes=SATURATION_SKEWED))
    points += [GridPoint("mixed", ((chunk, 0),), groups) for groups, chunk in LONG_CONTEXT_MIXED]
    for small in small_budgets:
        if small >= budget:
            continue
        half = min(small // 2, 256)
        points += [
            GridPoint("prefill", ((small, small),), budget=small),
            GridPoint("prefill", ((small, 3 * small),), budget=small),
            GridPoint("mixed", ((small - 64, 0),), ((64, 1024),), budget=small),
            GridPoint("mixed", ((small - half, 0),), ((half, 256),), budget=small),
            GridPoint("mixed", ((small - 128, small),), ((128, 512),), budget=small),
        ]
    return [p for p in points if p.kv_tokens <= max_kv_tokens
            and all(ctx + 64 < max_context for _, ctx in p.decodes)
            and all(new + cached <= max_context for new, cached in p.chunks)
            and p.num_tokens <= (p.budget or budget)]


def build_static_grid(max_context: int, max_kv_tokens: int, quick: bool = False) -> list[GridPoint]:
    """Steps of ``generate`` on padded batches: B rows x P tokens prefilled, then B rows decoding at P.

    Each prefill point is followed by the decode point of the same batch, which the same
    ``generate`` calls time (a decode step there reads the padded prompt plus the tokens so far).
    Smaller batches come first, so a time limit cuts the largest.
    """
    batches = (1, 2, 4) if quick else (1, 2, 4, 8, 16, 32, 64, 128)
    lengths = (8, 32) if quick else (128, 512, 1024, 2048, 4096, 8192)
    pairs = sorted(((rows, length) for rows in batches for length in lengths
                    if rows * (length + 1) <= max_kv_tokens and length <= max_context), key=lambda p: (p[0] * p[1], p))
    points = []
    for rows, length in pairs:
        points += [GridPoint("prefill", ((length, 0),) * rows), GridPoint("decode", decodes=((rows, length),))]
    return points


def _quick_grid(max_batch_tokens: int, max_context: int, cached_multiple: int | None) -> list[GridPoint]:
    """A few points of every kind, for smoke tests and the CPU end-to-end test."""
    small = max(2, min(max_batch_tokens, max_context) // 4)
    cached = cached_multiple or 16
    return [
        GridPoint("prefill", ((8, 0),)), GridPoint("prefill", ((small, 0),)),
        GridPoint("prefill", ((16, 0),) * 3), GridPoint("prefill", ((8, cached),)),
        GridPoint("prefill", ((32, 0),)), GridPoint("prefill", ((4, 0),)),
        GridPoint("decode", decodes=((1, 16),)), GridPoint("decode", decodes=((4, 16),)),
        GridPoint("decode", decodes=((4, 64),)), GridPoint("decode", decodes=((8, 32),)),
        GridPoint("decode", decodes=((2, 8),)), GridPoint("decode", decodes=((16, 16),)),
        GridPoint("skewed", decodes=((3, 8), (1, 64))),
        GridPoint("mixed", ((16, 0),), ((4, 16),)), GridPoint("mixed", ((8, 8),), ((2, 32),)),
    ]
