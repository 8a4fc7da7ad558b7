"""Searches over a yes-or-no question whose answer flips once: fewest count, highest rate.

Both gallop from a guess (steps double until the answer flips) and then bisect, so a good guess
costs two or three questions and a bad one O(log distance). They assume the answer is monotone;
where it is not, they still return a verified transition: a value that passes next to one that
fails.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable


def fewest_meeting(meets: Callable[[int], bool], guess: int = 1, limit: int = 1024) -> int:
    """Smallest n in 1..limit with meets(n) true and meets(n - 1) false (0 always fails).

    Raises ValueError if ``limit`` does not meet.
    """
    guess = min(max(1, guess), limit)
    if meets(guess):
        high, step = guess, 1
        while high - step >= 1 and meets(high - step):
            high, step = high - step, step * 2
        low = max(0, high - step)
    else:
        low, step = guess, 1
        while True:
            probe = min(low + step, limit)
            if meets(probe):
                high = probe
                break
            if probe == limit:
                raise ValueError(f"no count up to {limit} meets the objectives")
            low, step = probe, step * 2
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high


@dataclass(frozen=True)
class ScaleBracket:
    """The highest scale found to meet and the lowest found to fail, hi / lo <= 1 + tolerance."""

    meeting: float
    failing: float


def highest_meeting_scale(meets: Callable[[float], bool], guess_meeting: float = 1.0,
                          guess_failing: float | None = None, rel_tolerance: float = 0.02,
                          lowest: float = 1e-4, highest: float = 1e4) -> ScaleBracket | None:
    """Bracket the highest positive scale that meets; None if even ``lowest`` fails.

    The guesses are checked, not trusted: the bracket widens (doubling) until its low end
    meets and its high end fails, then narrows geometrically to ``rel_tolerance``. Raises
    ValueError if ``highest`` still meets (nothing saturates).
    """
    if not rel_tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {rel_tolerance}")
    low = guess_meeting
    high = guess_failing if guess_failing and guess_failing > low else low * 2
    if meets(low):
        while meets(high):
            if high >= highest:
                raise ValueError(f"still meets the objectives at {high:g}x the trace's rate")
            low, high = high, high * 2
    else:
        high = low
        low = high / 2
        while not meets(low):
            if low <= lowest:
                return None
            low, high = low / 2, low
    while high / low > 1 + rel_tolerance:
        middle = math.sqrt(low * high)
        if meets(middle):
            low = middle
        else:
            high = middle
    return ScaleBracket(low, high)
