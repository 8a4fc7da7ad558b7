"""Run arithmetic (simulator/decode_run.py) against counting one step at a time."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from batchsim.simulator.decode_run import blocks_for_steps, drain_plan, steps_before_eviction, steps_with_blocks


@settings(max_examples=300, deadline=None)
@given(size=st.sampled_from([1, 2, 3, 16]), data=st.data(), steps=st.integers(1, 70),
       free=st.integers(0, 60), first=st.integers(0, 40))
def test_block_counts_match_counting_each_step(size, data, steps, free, first):
    # phase histogram: counts[p] members whose (cached length - join step) % size == p; at
    # decode step s such a member needs a new block when (p + s) % size == 0
    counts = data.draw(st.lists(st.integers(0, 4), min_size=size, max_size=size))
    phases = [p for p, n in enumerate(counts) for _ in range(n)]
    need = [sum(1 for p in phases if (p + first + j) % size == 0) for j in range(steps)]
    assert blocks_for_steps(counts, first, steps, len(phases)) == sum(need)
    within = int(np.searchsorted(np.cumsum(need), free, side="right"))
    assert steps_with_blocks(counts, first, steps, len(phases), free) == max(1, within)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=st.sampled_from([1, 2, 4, 16]), members=st.integers(1, 6),
       other_blocks=st.integers(0, 30))
def test_drain_plan_matches_stepping(data, size, members, other_blocks):
    cached = np.array(data.draw(st.lists(st.integers(1, 60), min_size=members, max_size=members)))
    remaining = np.array(data.draw(st.lists(st.integers(1, 40), min_size=members, max_size=members)))
    blocks = -(-cached // size)
    used = start = int(blocks.sum()) + other_blocks
    lengths, new, peak, decoding = cached.copy(), 0, 0, []
    for j in range(int(remaining.max())):  # allocate at the step's start, release at its end
        alive = remaining > j
        decoding.append(int(alive.sum()))
        grow = alive & (lengths % size == 0)
        used, new, blocks = used + int(grow.sum()), new + int(grow.sum()), blocks + grow
        peak = max(peak, used)
        lengths += alive
        used -= int(blocks[remaining == j + 1].sum())
    got_new, got_peak, got_decoding = drain_plan(cached.tolist(), remaining.tolist(), size, start)
    assert (got_new, got_peak, list(got_decoding)) == (new, peak, decoding)


def test_a_run_ends_with_the_first_step_that_evicts_a_cached_block():
    # block size 4, members in phases needing 2, 0, 1, 0 new blocks on steps 0, 1, 2, 3: the
    # cumulative need is 2, 2, 3, 3, 5; two empty blocks cover steps 0 and 1, step 2 takes a cached
    # one (evicting it), so the policy must be asked again after it
    assert steps_before_eviction([2, 0, 1, 0], 0, 10, 3, 2) == 3
    # no empty block: the very first step may evict, so it runs alone
    assert steps_before_eviction([2, 0, 1, 0], 0, 10, 3, 0) == 1
    # enough empty blocks for the whole limit
    assert steps_before_eviction([2, 0, 1, 0], 0, 4, 3, 3) == 4
