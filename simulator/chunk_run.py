"""Runs of identical chunked-prefill steps: one request's prompt computed ``chunk`` tokens a step
while the same ``count`` requests decode one token each.

Step k of a run (k = 0, 1, ...) computes the chunk on top of ``cached + k * chunk`` prompt
tokens and decodes with context sum ``context_sum + k * count`` and maximum ``context_max + k``;
it needs the decode blocks of its phase (as in simulator/decode_run.py) plus the chunk's new
blocks. Each step is priced on its exact composition by the cost model's ``step_time_s`` (or its
``chunk_step_time_s``, the same float without building a StepShape), so every step time is the
float a single step would get. Times are seconds, sizes tokens and blocks.
"""
from __future__ import annotations

from batchsim.simulator.step import StepShape


def chunk_run_plan(cost_model, chunk: int, cached: int, held_blocks: int, count: int,
                   context_sum: int, context_max: int, phase_counts: list[int], decode_step: int,
                   block_size: int, free_blocks: int, start_s: float, horizon_s: float,
                   limit: int) -> tuple[list[float], list[int]]:
    """(step times, new blocks of each step) of at most ``limit`` steps: the first always, each
    later one if it starts before ``horizon_s`` and its new blocks fit in what the earlier steps
    left free (the policy's own test: a decode share it cannot place preempts, a chunk it cannot
    place is not scheduled). ``held_blocks`` are the blocks the prefilling request holds."""
    times_s: list[float] = []
    blocks: list[int] = []
    end_s = start_s
    price = getattr(cost_model, "chunk_step_time_s", None)
    for k in range(limit):
        if k and end_s >= horizon_s:  # the arrival is queued before step k would start
            break
        need = phase_counts[-(decode_step + k) % block_size] if count else 0
        computed = cached + chunk
        grow = -(-computed // block_size) - held_blocks
        if grow > 0:
            need += grow
        if k and need > free_blocks:
            break
        if grow > 0:
            held_blocks += grow
        free_blocks -= need
        longest = context_max + k if count else 0
        if price is not None:
            step_s = price(chunk, cached, count, context_sum + k * count, longest)
        else:
            step_s = cost_model.step_time_s(StepShape(((chunk, cached),), count,
                                                      context_sum + k * count, longest))
        times_s.append(step_s)
        blocks.append(need)
        end_s += step_s
        cached = computed
    return times_s, blocks
