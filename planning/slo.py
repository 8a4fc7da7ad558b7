"""Latency objectives for planning: a percentile of TTFT, TPOT or E2E latency over requests.

``ttft_p99=2s,tpot_p99=100ms,e2e_p90=20s`` sets each objective's metric, percentile (p50, p90 or
p99; p99 when omitted) and limit (seconds; ``s`` or ``ms`` suffix). Percentiles are those of the
run's summary: over completed requests, TPOT over requests with more than one output token,
interpolated linearly as vLLM's benchmark computes them. An objective is met when the observed
percentile is at or below its limit.

``violations_needed`` is the exact bound used to stop a hopeless simulation early: once that many
requests exceed a limit, the percentile exceeds it whatever the rest of the run does.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from batchsim.simulator.summary import parse_seconds

METRICS = {"ttft": "ttft", "tpot": "tpot", "e2e": "e2el", "e2el": "e2el"}
PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class Objective:
    """One latency objective: ``percentile`` of ``metric`` at most ``limit_s`` seconds."""

    metric: str  # ttft, tpot or e2e
    percentile: int
    limit_s: float

    def __post_init__(self) -> None:
        if self.metric not in ("ttft", "tpot", "e2e"):
            raise ValueError(f"unknown SLO metric '{self.metric}' (known: ttft, tpot, e2e)")
        if self.percentile not in PERCENTILES:
            raise ValueError(f"SLO percentile p{self.percentile} not supported (p50, p90, p99)")
        if not self.limit_s > 0:
            raise ValueError(f"SLO limit must be positive, got {self.limit_s}")

    @property
    def name(self) -> str:
        """Label such as ``ttft_p99``."""
        return f"{self.metric}_p{self.percentile}"

    def observed_s(self, summary: dict) -> float:
        """The percentile this objective bounds, read from a run's summary, in seconds."""
        name = f"p{self.percentile:g}_{METRICS[self.metric]}_ms"
        if name not in summary:
            raise KeyError(f"summary has no {name}")
        return summary[name] / 1000.0

    def met_by(self, summary: dict) -> bool:
        """True if the run's percentile is within the limit."""
        return self.observed_s(summary) * 1000.0 <= self.limit_s * 1000.0


def parse_slo(text: str) -> tuple[Objective, ...]:
    """Parse ``ttft_p99=2s,tpot_p99=100ms``; the error names the bad term."""
    if not text or not text.strip():
        raise ValueError("--slo is empty (expected e.g. ttft_p99=2s,tpot_p99=100ms)")
    objectives: dict[str, Objective] = {}
    for term in text.split(","):
        name, sep, raw = term.partition("=")
        parts = name.strip().lower().split("_")
        metric = next((p for p in parts if p in METRICS), None)
        rest = [p for p in parts if p != metric]
        if not sep or metric is None or len(rest) > 1 or (rest and not rest[0].startswith("p")):
            raise ValueError(f"bad SLO term '{term}' (expected METRIC_pNN=DURATION, metric ttft, "
                             f"tpot or e2e, e.g. ttft_p99=2s)")
        try:
            percentile = int(rest[0][1:]) if rest else 99
        except ValueError:
            raise ValueError(f"bad SLO percentile in '{term}' (p50, p90 or p99)") from None
        metric = "e2e" if metric == "e2el" else metric
        objective = Objective(metric, percentile, parse_seconds(raw))
        if objective.name in objectives:
            raise ValueError(f"SLO term '{term}' repeats {objective.name}")
        objectives[objective.name] = objective
    return tuple(objectives.values())


def format_slo(objectives) -> str:
    """``ttft_p99<=2s, tpot_p99<=100ms``."""
    return ", ".join(f"{o.name}<={format_duration(o.limit_s)}" for o in objectives)


def format_duration(seconds: float) -> str:
    """Seconds as ``2s`` or ``100ms``."""
    return f"{seconds:g}s" if seconds >= 1 else f"{seconds * 1000:g}ms"


def meets(summary: dict, objectives) -> bool:
    """True if a run completed requests and met every objective."""
    return summary["completed"] > 0 and all(o.met_by(summary) for o in objectives)


def violations_needed(count: int, percentile: int) -> int:
    """Requests above a limit that make the percentile over ``count`` values exceed it.

    The linear-interpolation percentile of n sorted values lies between the values at ranks
    k = floor(q (n - 1) / 100) and k + 1; if n - k + 1 values exceed the limit, the values at
    ranks k - 1 and above all do, so the percentile does too. n - k + 1 never decreases with n,
    so the bound for the most values a run could complete holds for however many it does.
    """
    if count < 1:
        return 1
    rank = int(Fraction(percentile) * (count - 1) // 100)
    return count - rank + 1
