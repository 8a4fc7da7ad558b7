"""Stated limits on the work one value can ask for, checked before anything is allocated.

Each limit is far above what a real run needs (the largest public traces hold tens of millions
of requests over weeks) and far below what hangs or exhausts memory. ``--limit-raise NAME=VALUE``
lifts one for a run that really needs it.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace


class LimitError(ValueError):
    """A size over its stated limit; the message names the limit and how to raise it."""


@dataclass(frozen=True)
class Limits:
    """Upper bounds on sizes (counts, seconds)."""

    requests: int = 50_000_000  # requests in one trace, synthesized or read
    arrival_span_s: float = 1e8  # first to last arrival (~3 years); float64 keeps microseconds
    windows: int = 100_000  # plan's time windows
    grid_points: int = 10_000  # sweep points
    columns: int = 1_000  # columns in a trace CSV
    requests_per_replica: int = 50_000_000  # requests one simulated replica is given

    def check(self, name: str, value: float, what: str) -> None:
        """Raise if ``value`` exceeds the limit ``name``; ``what`` says what was counted."""
        limit = getattr(self, name)
        if not value <= limit:  # also catches NaN
            raise LimitError(f"{what}: {value:,.6g} is over the limit {name}={limit:,.6g} "
                             f"(raise it with --limit-raise {name}=N)")


DEFAULT_LIMITS = Limits()
LIMIT_NAMES = tuple(f.name for f in fields(Limits))


def parse_limit_raises(texts: list[str] | None) -> Limits:
    """Limits with ``NAME=VALUE`` raises applied (values must be positive numbers)."""
    changes: dict[str, float] = {}
    for text in texts or ():
        name, sep, raw = text.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in LIMIT_NAMES:
            raise LimitError(f"--limit-raise {text[:60]!r}: expected NAME=VALUE with NAME one "
                             f"of {', '.join(LIMIT_NAMES)}")
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not 0 < value < float("inf"):
            raise LimitError(f"--limit-raise {name}: {raw[:40]!r} is not a positive number")
        if name in changes:
            raise LimitError(f"--limit-raise {name} given twice")
        is_int = isinstance(getattr(DEFAULT_LIMITS, name), int)
        changes[name] = int(value) if is_int else value
    return replace(DEFAULT_LIMITS, **changes)
