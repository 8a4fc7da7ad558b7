"""Sampled step times: a two-state chain fitted to a profile's repeats, drawn with a seed."""
import numpy as np
import pytest

from batchsim.simulator.profile_format import StepRecord
from batchsim.simulator.step import StepShape
from batchsim.simulator.step_spread import SampledStepTimes, fit_served_spread, fit_spread


def record(samples_ms):
    samples = tuple(t / 1e3 for t in samples_ms)
    return StepRecord("decode", (), 1, 100, 100, float(np.median(samples)), 0.0, 0.0, 0.0, 0.0, 0.0,
                      len(samples), wall_mean_s=float(np.mean(samples)), wall_samples_s=samples)


class Flat:
    """A cost model pricing every step at 80 ms."""

    def step_time_s(self, shape):
        return 0.08

    def decode_run_times_s(self, count, context_sum, context_max, steps):
        return np.full(steps, 0.08)


def test_streaks_of_a_slow_mode_are_found_and_keep_the_mean():
    # each point runs 70 ms steps with a streak of 100 ms steps; the cost model prices 80 ms
    records = [record([70, 70, 70, 70, 100, 100, 100, 70])] * 20
    spread = fit_spread(records, [0.08] * 20)
    # by hand: excesses -10 ms (5 of 8) and +20 ms (3 of 8); per point 4 steps leave a fast one (1 to
    # slow) and 3 leave a slow one (1 to fast); the estimate adds half a count and one step
    assert spread.levels[1] - spread.levels[0] == pytest.approx(0.030)
    assert spread.leave[0] == pytest.approx((20 + 0.5) / (80 + 1.0))
    assert spread.leave[1] == pytest.approx((20 + 0.5) / (60 + 1.0))
    share = spread.slow_share
    assert (1 - share) * spread.levels[0] + share * spread.levels[1] == pytest.approx(0.0, abs=1e-12)


def test_draws_are_deterministic_vectorized_and_keep_the_mean():
    spread = fit_spread([record([70, 70, 70, 70, 100, 100, 100, 70])] * 20, [0.08] * 20)
    one, two = SampledStepTimes(Flat(), spread, seed=3), SampledStepTimes(Flat(), spread, seed=3)
    run = one.decode_run_times_s(4, 400, 100, 20000)
    assert np.array_equal(run, two.decode_run_times_s(4, 400, 100, 20000))
    assert not np.array_equal(run, SampledStepTimes(Flat(), spread, seed=4).decode_run_times_s(4, 400, 100, 20000))
    assert run.mean() == pytest.approx(0.08, rel=0.03)
    slow = run > 0.08 + (spread.levels[0] + spread.levels[1]) / 2
    assert slow.mean() == pytest.approx(spread.slow_share, abs=0.05)
    streaks = np.diff(np.flatnonzero(np.diff(slow.astype(int)))).mean()  # mean run length of either state
    assert streaks > 2  # streaks, not independent draws
    assert one.step_time_s(StepShape((), 1, 10, 10)) > 0


def test_served_runs_are_sequences_and_a_rare_far_step_does_not_make_a_state():
    # two served runs priced at 80 ms a step: each repeats 70, 70, 70, 70, 100, 100, 100, 70 ms
    # ten times, and the first run holds one 700 ms step (a rare far-off step, not a mode)
    pattern = [70, 70, 70, 70, 100, 100, 100, 70] * 10
    runs = [pattern[:40] + [700] + pattern[40:], pattern]
    times_s = np.array([t / 1e3 for run in runs for t in run])
    spread = fit_served_spread(times_s, np.full(len(times_s), 0.08), [len(run) for run in runs])
    # by hand: the two-means split starts at the deciles (-10 and +20 ms), so the 620 ms excess joins
    # the slow state (level (60 x 20 + 620) / 61 ms) instead of being a state of its own; per run of
    # 80 pattern steps: fast->fast 39, fast->slow 10, slow->slow 20, slow->fast 10; the far step
    # turns one fast->fast into fast->slow and slow->fast
    assert spread.samples == 161
    assert spread.levels[1] - spread.levels[0] == pytest.approx((60 * 0.020 + 0.620) / 61 + 0.010)
    assert spread.leave[0] == pytest.approx((21 + 0.5) / (98 + 1.0))
    assert spread.leave[1] == pytest.approx((21 + 0.5) / (61 + 1.0))
    # jitter is each state's median absolute deviation: the far step does not widen the slow state
    assert spread.jitter == (0.0, 0.0)


def test_served_lengths_that_do_not_cover_the_rows_give_no_spread():
    assert fit_served_spread(np.full(10, 0.08), np.full(10, 0.08), [4, 5]) is None
