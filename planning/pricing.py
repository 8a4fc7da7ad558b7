"""What a plan costs: GPU-hours and money from a price per GPU-hour the user states.

No price is built in: GPU rental prices vary several-fold between providers and contracts, so
money is computed only from ``--gpu-cost-per-hour``; without it the plan reports GPU-hours.
Cost per million output tokens divides the fleet's cost over the run (first arrival to last
finish) by the output tokens it produced. Autoscaling per window assumes replicas start and stop
instantly at window boundaries, so its saving is an upper bound.
"""
from __future__ import annotations

from dataclasses import dataclass

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class FleetCost:
    """Cost of running the planned fleet on the trace."""

    gpus: int
    gpu_hour_price: float | None
    run_hours: float
    output_tokens: int

    @property
    def per_hour(self) -> float | None:
        """Money per hour for the fleet."""
        return None if self.gpu_hour_price is None else self.gpus * self.gpu_hour_price

    @property
    def per_million_output_tokens(self) -> float | None:
        """Money per million output tokens over the run."""
        if self.gpu_hour_price is None or self.output_tokens == 0:
            return None
        return self.per_hour * self.run_hours / self.output_tokens * 1e6


@dataclass(frozen=True)
class Autoscaling:
    """GPU-hours over the windows: fixed fleets against a per-window count."""

    window_s: float
    fixed_gpu_hours: float  # the whole-trace count, every window
    peak_gpu_hours: float  # the busiest window's count, every window
    autoscaled_gpu_hours: float  # each window's own count

    @property
    def saving_vs_peak(self) -> float:
        """Fraction of GPU-hours saved against holding the busiest window's count all along."""
        return 1 - self.autoscaled_gpu_hours / self.peak_gpu_hours if self.peak_gpu_hours else 0.0

    @property
    def saving_vs_fixed(self) -> float:
        """Fraction saved against the whole-trace count (negative: autoscaling costs more)."""
        return 1 - self.autoscaled_gpu_hours / self.fixed_gpu_hours if self.fixed_gpu_hours else 0.0


def fleet_cost(plan, gpu_hour_price: float | None) -> FleetCost:
    """The planned fleet's cost over the run at the planned count."""
    if gpu_hour_price is not None and not gpu_hour_price > 0:
        raise ValueError(f"--gpu-cost-per-hour must be positive, got {gpu_hour_price}")
    summary = plan.at_count.summary
    return FleetCost(plan.gpus, gpu_hour_price, summary["duration"] / SECONDS_PER_HOUR,
                     summary["total_output_tokens"])


def autoscaling(plan, window_s: float) -> Autoscaling | None:
    """GPU-hours with per-window counts against fixed fleets; None without windows."""
    if not plan.windows:
        return None
    hours = window_s / SECONDS_PER_HOUR
    gpr = plan.gpus_per_replica
    peak = max(w.replicas for w in plan.windows)
    count = len(plan.windows)
    return Autoscaling(window_s, plan.replicas * gpr * hours * count, peak * gpr * hours * count,
                       sum(w.replicas for w in plan.windows) * gpr * hours)
