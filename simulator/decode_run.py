"""Arithmetic of a run of identical decode steps: step times, KV blocks, where the run must stop.

In a run the same ``count`` sequences decode once per step: step j sees the context sum
``total + j * count`` and maximum ``longest + j``. A member needs a new KV block on the steps
where its cached length is a multiple of the block size, so the blocks a step needs come from a
histogram of the members' phases (cached length modulo block size) that rotates by one per step.
Times are seconds.
"""
from __future__ import annotations

import math

import numpy as np

from batchsim.simulator.cost import decode_run_times_s

# How a run is priced (crossovers measured on the roofline and profile cost models): up to
# SCALAR_STEPS steps one scalar call per step; up to LIST_STEPS one vectorized call, with the
# steps before the horizon counted in plain Python; beyond that, counted with numpy.
SCALAR_STEPS, LIST_STEPS = 8, 96


def run_step_times(cost_model, price_decode, count: int, total: int, longest: int,
                   first_s: float, start_s: float, horizon_s: float, limit: int):
    """Times of the run's steps: at most ``limit``, each after the first starting before
    ``horizon_s``. ``price_decode(count, total, longest)`` prices one decode step."""
    if limit == 1 or start_s + first_s >= horizon_s:
        return [first_s]
    guess = limit
    if horizon_s < math.inf:  # step times grow with context, so the first bounds the count
        guess = min(limit, int((horizon_s - start_s) / first_s) + 2)
    if guess <= SCALAR_STEPS:
        times_s, end_s = [first_s], start_s + first_s
        for j in range(1, limit):
            if end_s >= horizon_s:
                break
            step_s = price_decode(count, total + j * count, longest + j)
            times_s.append(step_s)
            end_s += step_s
        return times_s
    while True:
        times_s = decode_run_times_s(cost_model, count, total, longest, guess)
        times_s[0] = first_s
        if horizon_s == math.inf:  # guess == limit: every step is in
            steps = guess
        elif guess <= LIST_STEPS:
            times_s = times_s.tolist()
            steps, end_s = 1, start_s + first_s
            while steps < guess and end_s < horizon_s:
                end_s += times_s[steps]
                steps += 1
        else:
            ends_s = np.cumsum(times_s[:-1])
            ends_s += start_s  # step k + 1 starts when step k ends
            steps = 1 + int(np.searchsorted(ends_s, horizon_s, side="left"))
        if steps < guess or guess == limit:
            return _with_last_priced(times_s[:steps], price_decode, count, total, longest)
        guess = min(limit, guess * 2)


def _with_last_priced(times_s: np.ndarray, price_decode, count: int, total: int, longest: int):
    # a cost model that notes out-of-range steps sees the run's largest step through the
    # scalar call (vectorized pricing leaves notes out); the value itself is the same
    last = len(times_s) - 1
    if last > 0:
        times_s[last] = price_decode(count, total + last * count, longest + last)
    return times_s


def blocks_for_steps(phase_counts: list[int], first_step: int, steps: int, members: int) -> int:
    """New blocks ``steps`` decode steps from ``first_step`` need: each member one per
    block_size steps, on the steps its phase comes round."""
    size = len(phase_counts)
    full, rest = divmod(steps, size)
    blocks = full * members
    if rest:
        # steps first_step .. first_step + rest - 1 read phases top, top - 1, ... (cyclically)
        top = -first_step % size
        low = top - rest + 1
        if low >= 0:
            blocks += sum(phase_counts[low:top + 1])
        else:
            blocks += sum(phase_counts[:top + 1]) + sum(phase_counts[size + low:])
    return blocks


def steps_before_eviction(phase_counts: list[int], first_step: int, limit: int, members: int,
                          empty_blocks: int) -> int:
    """How many of the next ``limit`` decode steps run before the policy could see an eviction:
    the steps whose new blocks all come from ``empty_blocks`` (never cached), and the first step
    that takes one more (its evictions change the next step's input, not its own)."""
    phases = (-(first_step + np.arange(limit))) % len(phase_counts)
    needed = np.cumsum(np.asarray(phase_counts)[phases])
    return min(limit, int(np.searchsorted(needed, empty_blocks, side="right")) + 1)


def steps_with_blocks(phase_counts: list[int], first_step: int, limit: int, members: int,
                      free_blocks: int) -> int:
    """How many of the next ``limit`` decode steps find their new blocks free (at least 1)."""
    size = len(phase_counts)
    if members * (limit // size + 1) <= free_blocks:
        return limit
    phases = (-(first_step + np.arange(limit))) % size
    needed = np.cumsum(np.asarray(phase_counts)[phases])
    return max(1, int(np.searchsorted(needed, free_blocks, side="right")))


def drain_plan(cached: list[int], remaining: list[int], block_size: int, used_blocks: int):
    """KV and batch-size profile of decode steps that go on until every member has finished.

    Member i has ``cached[i]`` tokens in KV and decodes ``remaining[i]`` more steps; it takes a
    new block on each step that starts with its cached length a multiple of the block size,
    and frees all its blocks when its last step ends. Returns (new blocks over the run, most
    blocks in use after any step's allocation, members decoding in each step).
    """
    firsts = [-c % block_size for c in cached]  # first step on which each member takes a block
    lasts = [n - 1 for n in remaining]
    order = sorted(range(len(lasts)), key=lasts.__getitem__)
    # use only grows between releases, so it peaks on some member's last step: walk those in
    # order, with the blocks of members already gone counted whole and then released
    peak = gone_taken = released = 0
    for position, i in enumerate(order):
        step, taken = lasts[i], gone_taken
        for k in order[position:]:  # members decoding through ``step``
            if step >= firsts[k]:
                taken += (step - firsts[k]) // block_size + 1
        peak = max(peak, used_blocks + taken - released)
        if lasts[i] >= firsts[i]:
            gone_taken += (lasts[i] - firsts[i]) // block_size + 1
        released += -(-(cached[i] + remaining[i]) // block_size)
    ends = sorted(set(remaining))
    decoding = np.repeat([sum(1 for n in remaining if n >= end) for end in ends],
                         [end - before for before, end in zip([0] + ends, ends)])
    return gone_taken, peak, decoding
