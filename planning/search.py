"""Searches over a yes-or-no question whose answer flips once: fewest count, highest rate.

Both gallop from a guess (steps double until the answer flips) and then bisect, so a good guess
costs two or three questions and a bad one O(log distance). They assume the answer is monotone;
where it is not, they still return a verified transition: a value that passes next to one that
fails.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


def fewest_meeting(meets: Callable[[int], bool], guess: int = 1, limit: int = 1024,
                   meets_below_known: Callable[[int], bool] | None = None) -> int:
    """Smallest n in 1..limit with meets(n) true and meets(n - 1) false (0 always fails).

    ``meets_below_known(n)``, if given, is asked instead of ``meets(n)`` whenever n + 1 is
    already known to meet: failing there makes n + 1 the answer and n the count just below it,
    whose full evidence a planner shows, so the caller can run that question in full once
    rather than stop it early and run it again. Raises ValueError if ``limit`` does not meet.
    """
    below_known = meets_below_known or meets
    guess = min(max(1, guess), limit)
    if meets(guess):
        high, step = guess, 1
        while high - step >= 1 and (below_known if step == 1 else meets)(high - step):
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
        if (below_known if middle == high - 1 else meets)(middle):
            high = middle
        else:
            low = middle
    return high


@dataclass(frozen=True)
class ScaleBracket:
    """The highest scale found to meet and the lowest found to fail, hi / lo <= 1 + tolerance."""

    meeting: float
    failing: float


def highest_meeting_scale(meets_many: Callable[[list[float]], list[bool]],
                          guess_meeting: float = 1.0, guess_failing: float | None = None,
                          rel_tolerance: float = 0.02, lowest: float = 1e-4,
                          highest: float = 1e4, probes: int = 1,
                          known_meeting: bool = False) -> ScaleBracket | None:
    """Bracket the highest positive scale that meets; None if even ``lowest`` fails.

    ``meets_many`` answers a list of scales at once (in parallel, for ``probes`` > 1: each
    round then asks ``probes`` scales and narrows the bracket ``probes`` + 1 ways); it may
    return any iterable: answers are read in order and no further once the round is decided
    (past the first failing scale going up, the first meeting one going down), so a lazy
    answerer never runs the questions whose answers would go unread. The guesses
    are checked, not trusted, unless ``known_meeting`` says ``guess_meeting`` was already seen
    to meet: the bracket widens until its low end meets and its high end fails, then narrows
    geometrically to ``rel_tolerance``. Raises ValueError if ``highest`` still meets.
    """
    if not rel_tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {rel_tolerance}")
    probes = max(1, probes)
    low = guess_meeting
    high = guess_failing if guess_failing and guess_failing > low else low * 2
    if not (known_meeting or next(iter(meets_many([low])))):
        widened = _widen_down(meets_many, low, lowest, probes)
        if widened is None:
            return None
        low, high = widened
    else:
        low, high = _widen_up(meets_many, low, high, highest, probes)
    while high / low > 1 + rel_tolerance:
        ratio = (high / low) ** (1.0 / (probes + 1))
        scales = [low * ratio ** (i + 1) for i in range(probes)]
        for scale, ok in zip(scales, meets_many(scales)):
            if not ok:
                high = scale
                break
            low = scale
    return ScaleBracket(low, high)


def _widen_up(meets_many, meeting: float, probe: float, highest: float,
              probes: int) -> tuple[float, float]:
    """(meeting, failing) from a scale known to meet, asking ``probe`` first, then doubling."""
    while True:
        scales = [probe * 2 ** i for i in range(probes)]
        for scale, ok in zip(scales, meets_many(scales)):
            if not ok:
                return meeting, scale
            meeting = scale
        if meeting >= highest:
            raise ValueError(f"still meets the objectives at {meeting:g}x the trace's rate")
        probe = meeting * 2


def _widen_down(meets_many, failing: float, lowest: float,
                probes: int) -> tuple[float, float] | None:
    """(meeting, failing) below a scale known to fail, halving; None below ``lowest``."""
    while True:
        scales = [failing / 2 ** (i + 1) for i in range(probes)]
        for scale, ok in zip(scales, meets_many(scales)):
            if ok:
                return scale, failing
            failing = scale
        if failing <= lowest:
            return None
