"""Latency objectives for planning: a percentile of TTFT, TPOT or E2E latency over requests.

``ttft_p99=2s,tpot_p99=100ms,e2e_p90=20s`` sets each objective's metric, percentile (p50, p90 or
p99; p99 when omitted) and limit, which needs its unit (``s`` or ``ms``): a bare number is an
error, and so is an objective given twice (``ttft`` and ``ttft_p99`` are the same one). This is
the one grammar of every command's ``--slo``. vLLM's ``--goodput ttft:2000 tpot:100`` spelling
(limits in milliseconds, as ``vllm bench serve`` reads them) is parsed by ``parse_goodput``. Percentiles are those of the
run's summary: over completed requests, TPOT over requests with more than one output token,
interpolated linearly as vLLM's benchmark computes them. An objective is met when the observed
percentile is at or below its limit.

``violations_needed`` is the exact bound used to stop a hopeless simulation early: once that many
requests exceed a limit, the percentile exceeds it whatever the rest of the run does.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from batchsim.inputs import quote
from batchsim.simulator.summary import Slo

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
        if not 0 < self.limit_s < math.inf:
            raise ValueError(f"SLO limit must be a positive finite duration, got {self.limit_s}")

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


_DURATION = re.compile(r"([-+]?[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(ms|s)")


def parse_duration(raw: str, term: str) -> float:
    """``2s`` or ``100ms`` in seconds; a bare number, another unit or a non-finite value fails."""
    text = raw.strip().lower()
    match = _DURATION.fullmatch(text)
    if match is None:
        bare = re.fullmatch(r"[-+0-9.e]+", text) is not None
        problem = "needs a unit (s or ms)" if bare else "is not a duration"
        raise ValueError(f"SLO term {quote(term, 60)}: {quote(raw.strip(), 30)} {problem}, "
                         f"e.g. 2s or 100ms")
    value = float(match.group(1)) / (1000.0 if match.group(2) == "ms" else 1.0)
    if not 0 < value < math.inf:
        raise ValueError(f"SLO term {quote(term, 60)}: the limit must be positive and finite")
    return value


def parse_slo(text: str) -> tuple[Objective, ...]:
    """Parse ``ttft_p99=2s,tpot_p99=100ms``; the error names the bad term."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("--slo is empty (expected e.g. ttft_p99=2s,tpot_p99=100ms)")
    objectives: dict[str, Objective] = {}
    for term in text.split(","):
        name, sep, raw = term.partition("=")
        parts = name.strip().lower().split("_")
        metric = next((p for p in parts if p in METRICS), None)
        rest = [p for p in parts if p != metric]
        if not sep or metric is None or len(rest) > 1 or (rest and not rest[0].startswith("p")):
            raise ValueError(f"bad SLO term {quote(term, 60)} (expected METRIC_pNN=DURATION, "
                             "metric ttft, tpot or e2e, e.g. ttft_p99=2s)")
        try:
            percentile = int(rest[0][1:]) if rest else 99
        except ValueError:
            raise ValueError(f"bad SLO percentile in {quote(term, 60)} (p50, p90 or p99)") from None
        metric = "e2e" if metric == "e2el" else metric
        objective = Objective(metric, percentile, parse_duration(raw, term))
        if objective.name in objectives:
            raise ValueError(f"SLO term {quote(term, 60)} repeats {objective.name}")
        objectives[objective.name] = objective
    return tuple(objectives.values())


def parse_goodput(terms) -> tuple[Objective, ...]:
    """vLLM's ``--goodput ttft:2000 tpot:100 e2el:20000`` (milliseconds) as p99 objectives.

    Accepts a list of ``KEY:MS`` terms or one string of them separated by spaces or commas.
    """
    if isinstance(terms, str):
        terms = terms.replace(",", " ").split()
    if not terms:
        raise ValueError("--goodput is empty (expected e.g. ttft:2000 tpot:100)")
    objectives: dict[str, Objective] = {}
    for term in terms:
        key, sep, raw = str(term).partition(":")
        metric = {"ttft": "ttft", "tpot": "tpot", "e2el": "e2e"}.get(key.strip().lower())
        if not sep or metric is None:
            raise ValueError(f"--goodput term {quote(term, 60)}: expected KEY:MILLISECONDS with "
                             "KEY ttft, tpot or e2el (as vllm bench serve)")
        try:
            limit_ms = float(raw)
        except ValueError:
            limit_ms = math.nan
        if not 0 < limit_ms < math.inf:
            raise ValueError(f"--goodput term {quote(term, 60)}: milliseconds must be a positive "
                             "finite number")
        if metric in objectives:
            raise ValueError(f"--goodput term {quote(term, 60)} repeats {key.strip()}")
        objectives[metric] = Objective(metric, 99, limit_ms / 1000.0)
    return tuple(objectives.values())


def goodput_slo(objectives) -> Slo:
    """Per-request limits for goodput (a request is good when within every limit): for each
    metric the p99 objective's limit, as plan counts goodput, else the tightest one given."""
    limits: dict[str, tuple[bool, float]] = {}
    for objective in objectives:
        rank = (objective.percentile != 99, objective.limit_s)
        if objective.metric not in limits or rank < limits[objective.metric]:
            limits[objective.metric] = rank
    chosen = {metric: limit for metric, (_, limit) in limits.items()}
    return Slo(ttft_s=chosen.get("ttft"), tpot_s=chosen.get("tpot"), e2e_s=chosen.get("e2e"))


def scenario_slo(slo: str | None, goodput: str | None = None) -> Slo:
    """The goodput limits of a scenario's ``--slo`` and ``--goodput`` together."""
    objectives = (parse_slo(slo) if slo else ()) + (parse_goodput(goodput) if goodput else ())
    metrics = [o.metric for o in objectives if o.percentile == 99]
    repeated = sorted({m for m in metrics if metrics.count(m) > 1})
    if repeated:
        raise ValueError(f"--slo and --goodput both limit {', '.join(repeated)}; give it once")
    return goodput_slo(objectives)


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
