"""Step times as the engine delivers them: a seeded draw from the spread a profile measured.

transformers' engine without CUDA graphs runs a step in about 70 or about 100 ms whatever its size
at small batches, and the slow mode comes in streaks. A profile keeps every repeat of every step
in the order it ran (``StepRecord.wall_samples_s``). The slow mode is host time (the eager
forward's launches stall), so it adds about the same seconds to a small step as to a large one.
``fit_spread`` pools each repeat's excess over the time the cost model prices its step at (so a
step whose repeats all ran in the slow mode counts as slow, as the engine's streaks make it),
splits the pooled excesses into a fast and a slow state (two-means), and fits a two-state Markov
chain from consecutive repeats: per state, its level (mean excess, seconds), its jitter (standard
deviation) and its chance of ending each step. Levels are shifted so the chain's long-run mean
excess is exactly 0: sampled runs keep the mean step time the cost model prices, and gain the
engine's spread and streaks.

``SampledStepTimes`` wraps a cost model and adds the chain's next excess to each priced step (never
taking a step below a fifth of its price): deterministic given the seed and the order steps are
priced, and vectorized over a decode run (the states of a run are drawn as whole streaks, their
jitter in one array).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_REPEATS = 3  # a step needs this many repeats to show a transition
KMEANS_ROUNDS = 30
MIN_SHARE = 0.2
MISFIT_MADS = 6.0  # a drawn step never takes less than this share of its priced time


@dataclass(frozen=True)
class StepSpread:
    """A two-state chain of step-time factors (state 0 fast, state 1 slow)."""

    levels: tuple[float, float]  # mean excess over the priced time in each state (seconds)
    jitter: tuple[float, float]  # standard deviation of the excess within each state (seconds)
    leave: tuple[float, float]  # chance per step of leaving each state
    samples: int  # repeats the fit used
    steps: int  # profiled steps they came from

    @property
    def slow_share(self) -> float:
        """Long-run share of steps in the slow state."""
        return self.leave[0] / (self.leave[0] + self.leave[1])

    def describe(self) -> dict:
        """The fitted chain, for reports and JSON."""
        return {"fast_excess_ms": round(1e3 * self.levels[0], 2), "slow_excess_ms": round(1e3 * self.levels[1], 2),
                "slow_share": round(self.slow_share, 4),
                "mean_fast_streak_steps": round(1 / self.leave[0], 2),
                "mean_slow_streak_steps": round(1 / self.leave[1], 2),
                "samples": self.samples, "steps": self.steps}


def fit_spread(records: list, priced_s) -> StepSpread | None:
    """The chain fitted to the repeats of ``records`` around ``priced_s`` (the cost model's time for
    each record); None when no step kept enough repeats."""
    return fit_chain([np.asarray(r.wall_samples_s) - price for r, price in zip(records, priced_s)
                      if len(r.wall_samples_s) >= MIN_REPEATS])


def fit_served_spread(times_s, priced_s, run_lengths: list[int]) -> StepSpread | None:
    """The chain fitted to served steps (one row a step, each run's steps in the order they ran,
    runs one after another): each run's excesses over their prices are one sequence, so the chain
    learns the streaks of service itself. None when the lengths do not cover the rows."""
    excess = np.asarray(times_s, dtype=float) - np.asarray(priced_s, dtype=float)
    if sum(run_lengths) != len(excess) or any(n < 1 for n in run_lengths):
        return None
    bounds = np.cumsum(run_lengths)[:-1]
    return fit_chain([seq for seq in np.split(excess, bounds) if len(seq) >= MIN_REPEATS], served=True)


def fit_chain(sequences: list, served: bool = False) -> StepSpread | None:
    """The two-state chain of the excess sequences (seconds, each in the order the steps ran).

    Served steps hold a few far slower than either mode (hundreds of ms, about 0.1% of steps):
    with ``served`` the two-means split starts at the 10th and 90th percentiles (from the extremes
    those steps would be the slow state) and each state's jitter is its median absolute deviation
    scaled to a standard deviation (its plain deviation would spread those few steps' excess over
    every slow step drawn). They still count in the slow state's level."""
    if not sequences:
        return None
    # a step the model's form misses (one point far off every other) is misfit, not the engine's
    # spread: points whose mean excess passes MISFIT_MADS median absolute excesses are left out
    means = np.array([seq.mean() for seq in sequences])
    mad = float(np.median(np.abs(means)))
    if mad > 0:
        sequences = [seq for seq, mean in zip(sequences, means) if abs(mean) <= MISFIT_MADS * mad]
    excess = np.concatenate(sequences)
    low, high = float(excess.min()), float(excess.max())
    if served:
        low, high = (float(v) for v in np.percentile(excess, [10, 90]))
    if high - low < 1e-9:
        return StepSpread((0.0, 0.0), (0.0, 0.0), (0.5, 0.5), len(excess), len(sequences))
    for _ in range(KMEANS_ROUNDS):
        slow = excess > (low + high) / 2
        low, high = float(excess[~slow].mean()), float(excess[slow].mean())
    cut = (low + high) / 2
    slow = excess > cut
    stays = np.zeros((2, 2))
    for seq in sequences:
        states = (seq > cut).astype(int)
        np.add.at(stays, (states[:-1], states[1:]), 1)
    leave = tuple(float(np.clip((stays[s, 1 - s] + 0.5) / (stays[s].sum() + 1.0), 1e-3, 1.0)) for s in (0, 1))
    slow_share = leave[0] / (leave[0] + leave[1])
    mean = (1 - slow_share) * low + slow_share * high
    jitter = (_deviation(excess[~slow], served), _deviation(excess[slow], served))
    return StepSpread((low - mean, high - mean), jitter, leave, len(excess), len(sequences))


def _deviation(values: np.ndarray, robust: bool) -> float:
    if not robust:
        return float(values.std())
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))  # MAD, as a normal's sigma


class SampledStepTimes:
    """A cost model whose step times are the wrapped model's, each times the chain's next factor."""

    def __init__(self, base, spread: StepSpread, seed: int) -> None:
        self.base, self.spread, self.seed = base, spread, seed
        self._rng = np.random.default_rng(seed)
        self._state = int(self._rng.random() < spread.slow_share)  # start where the chain spends time
        self._left = int(self._rng.geometric(spread.leave[self._state]))
        self._levels, self._jitter = np.asarray(spread.levels), np.asarray(spread.jitter)

    def __getattr__(self, name):
        return getattr(self.base, name)

    def excess_s(self, count: int) -> np.ndarray:
        """The chain's next ``count`` excesses (seconds)."""
        states = np.empty(count, dtype=np.int64)
        filled = 0
        while filled < count:
            take = min(self._left, count - filled)
            states[filled:filled + take] = self._state
            filled += take
            self._left -= take
            if self._left == 0:
                self._state = 1 - self._state
                self._left = int(self._rng.geometric(self.spread.leave[self._state]))
        return self._levels[states] + self._jitter[states] * self._rng.standard_normal(count)

    def step_time_s(self, shape) -> float:
        """The wrapped model's time for ``shape``, drawn from the spread."""
        return _drawn(self.base.step_time_s(shape), float(self.excess_s(1)[0]))

    def decode_step_time_s(self, count: int, context_sum: int, context_max: int) -> float:
        """One decode step, drawn from the spread."""
        price = getattr(self.base, "decode_step_time_s", None)
        if price is None:
            from batchsim.simulator.step import StepShape
            return self.step_time_s(StepShape((), count, context_sum, context_max))
        return _drawn(price(count, context_sum, context_max), float(self.excess_s(1)[0]))

    def decode_run_times_s(self, count: int, context_sum: int, context_max: int, steps: int) -> np.ndarray:
        """A run of decode steps, each drawn from the spread (one vector draw)."""
        from batchsim.simulator.cost import decode_run_times_s
        priced = decode_run_times_s(self.base, count, context_sum, context_max, steps)
        return np.maximum(priced + self.excess_s(steps), MIN_SHARE * priced)


def _drawn(priced_s: float, excess_s: float) -> float:
    return max(priced_s + excess_s, MIN_SHARE * priced_s)


def spread_of(cost_model) -> StepSpread | None:
    """The measured spread behind a cost model (a profile, or the shard profile of a TP model)."""
    spread = getattr(cost_model, "spread", None)
    if spread is None and hasattr(cost_model, "shard_cost"):
        spread = getattr(cost_model.shard_cost, "spread", None)
    return spread
