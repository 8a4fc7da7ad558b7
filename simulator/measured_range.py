"""How far a run's steps went beyond the range its profile measured.

A profile's measured range is the largest value each dimension took over its measured steps;
a run's steps table (``simulator.metrics.STEP_COLUMNS``) says what each step held. Dimensions,
all in tokens or sequences of one forward step:

- tokens per step: new tokens computed (prefill chunks plus one per decode);
- decodes per step: sequences decoding one token;
- KV tokens per step: KV entries the step's attention reads (cached plus new, every sequence);
- context per decode: the longest decoding sequence's context, its new token included;
- prefill length: the longest prefilling sequence's context (cached plus new tokens).

A row of the steps table may stand for a run of ``steps`` decode steps; within it each step
adds one token to every decoding context, so KV tokens grow by the decode count per step and
the longest context by one. A run of one prompt chunk (``prefill_tokens`` per step) also adds
the chunk to the prefilling sequence: KV tokens and the prefill length grow by it per step. The check is a pure function of the range and the table, run after
the simulation: cost models stay pure and any wrapper (tensor parallel) is covered alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIMENSIONS = ("tokens per step", "decodes per step", "KV tokens per step", "context per decode",
              "prefill length")
UNPROFILED = "unprofiled: roofline estimate"


@dataclass(frozen=True)
class MeasuredRange:
    """The largest value of each dimension among a profile's measured steps."""

    profile: str
    limits: dict  # dimension -> largest measured value (tokens or sequences)

    @classmethod
    def of_records(cls, profile: str, records: list) -> "MeasuredRange":
        """The range of profiled steps (``profile_format.StepRecord``, measured ones only)."""
        values = {name: 0.0 for name in DIMENSIONS}
        for r in records:
            chunks = r.prefill_chunks
            step = {"tokens per step": sum(new for new, _ in chunks) + r.decode_count,
                    "decodes per step": r.decode_count,
                    "KV tokens per step": (sum(new + cached for new, cached in chunks)
                                           + r.decode_context_sum + r.decode_count),
                    "context per decode": r.decode_context_max + 1 if r.decode_count else 0,
                    "prefill length": max((new + cached for new, cached in chunks), default=0)}
            for name, value in step.items():
                values[name] = max(values[name], float(value))
        return cls(profile, values)


@dataclass(frozen=True)
class Extrapolation:
    """How far beyond the measured range a run's steps went (``profile`` None: unprofiled)."""

    profile: str | None
    steps: int  # forward steps in the run
    steps_outside: int  # steps with any dimension beyond the measured range
    largest_ratio: dict  # dimension -> largest value seen / measured maximum

    @property
    def share_outside(self) -> float:
        """Fraction of the run's steps priced outside the measured range."""
        return self.steps_outside / self.steps if self.steps else 0.0

    @property
    def worst(self) -> tuple[str, float] | None:
        """(dimension, ratio) furthest beyond the range, or None when every step was inside."""
        beyond = [(ratio, name) for name, ratio in self.largest_ratio.items() if ratio > 1.0]
        if not beyond:
            return None
        ratio, name = max(beyond)
        return name, ratio

    def describe(self) -> str:
        """One line for reports."""
        if self.profile is None:
            return UNPROFILED
        worst = self.worst
        if worst is None:
            return f"within profile {self.profile}'s measured range (all {self.steps:,} steps)"
        beyond = ", ".join(f"{name} {ratio:.2f}x" for name, ratio in self.largest_ratio.items()
                           if ratio > 1.0)
        return (f"extrapolated: {self.share_outside:.1%} of steps beyond profile {self.profile}'s "
                f"measured range (largest: {beyond})")

    def as_dict(self) -> dict:
        """JSON form: the summary's ``extrapolation`` entry."""
        worst = self.worst
        return {"profile": self.profile, "status": _status(self),
                "steps": self.steps, "steps_outside": self.steps_outside,
                "share_outside": round(self.share_outside, 6),
                "largest_ratio": {k: _finite(v) for k, v in self.largest_ratio.items()},
                "worst_dimension": worst[0] if worst else None,
                "worst_ratio": _finite(worst[1]) if worst else None,
                "description": self.describe()}


def _status(extrapolation: Extrapolation) -> str:
    if extrapolation.profile is None:
        return "unprofiled"
    return "extrapolated" if extrapolation.worst else "within range"


def _finite(ratio: float) -> float | None:
    """Rounded ratio; None where the profile measured nothing of that dimension (JSON has no inf)."""
    return round(ratio, 4) if np.isfinite(ratio) else None


def step_dimensions(steps: dict) -> dict:
    """Per row: (first step's value, growth per later step of the row) for each dimension."""
    decodes = np.asarray(steps["decode_seqs"], dtype=np.float64)
    zero = np.zeros_like(decodes)
    has_decodes = (decodes > 0).astype(np.float64)
    # a run row's prefill tokens are one chunk a step (only chunk runs have both steps > 1 and
    # prefill tokens); single-step rows have no later steps, so their growth never counts
    chunk = np.asarray(steps["prefill_tokens"], np.float64)
    return {"tokens per step": (chunk + decodes, zero),
            "decodes per step": (decodes, zero),
            "KV tokens per step": (np.asarray(steps["kv_tokens"], np.float64), decodes + chunk),
            "context per decode": (np.asarray(steps["decode_context"], np.float64), has_decodes),
            "prefill length": (np.asarray(steps["prefill_length"], np.float64), chunk)}


def extrapolation(measured: MeasuredRange | None, steps: dict) -> Extrapolation:
    """How far the steps table went beyond ``measured`` (None: the run was not profiled)."""
    counts = np.asarray(steps["steps"], dtype=np.int64)
    total = int(counts.sum())
    if measured is None:
        return Extrapolation(None, total, 0, {})
    last = counts - 1
    first_outside = counts.copy()  # index of each row's first step outside the range
    ratios = {}
    for name, (first, growth) in step_dimensions(steps).items():
        limit = float(measured.limits.get(name, 0.0))
        largest = float((first + growth * last).max(initial=0.0))
        ratios[name] = largest / limit if limit > 0 else (float("inf") if largest > 0 else 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            steps_inside = np.where(growth > 0, np.floor((limit - first) / growth) + 1,
                                    np.where(first > limit, 0, counts))
        first_outside = np.minimum(first_outside, np.clip(steps_inside, 0, counts).astype(np.int64))
    return Extrapolation(measured.profile, total, int((counts - first_outside).sum()), ratios)


def measured_range_of(cost_model) -> MeasuredRange | None:
    """The cost model's measured range; None for models without a profile (the roofline)."""
    return getattr(cost_model, "measured_range", None)


def strict_range_error(summary: dict, what: str = "run") -> str | None:
    """The ``--strict-range`` error line for a summary that extrapolated, else None."""
    entry = summary.get("extrapolation") or {}
    if entry.get("status") != "extrapolated":
        return None
    ratio = entry["worst_ratio"]
    shown = f"{ratio:.2f}x" if ratio is not None else "beyond any measured value"
    return (f"--strict-range: {what} goes beyond profile {entry['profile']}'s measured range: "
            f"{entry['worst_dimension']} {shown} ({entry['share_outside']:.1%} of steps)")
