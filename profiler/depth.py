"""Reduced-depth timing: a step's time at full depth from its times through fewer layers (seconds).

A decoder step runs the same layer L times between a fixed part (building inputs, embedding,
final norm, LM head, sampling, copying the ids back), so its time is a + b x L. Timing a grid
point at two or more depths fixes a and b (least squares through the timed depths; a single
depth N is paired with 0 layers, the fixed part alone) and the full-depth time follows. The
p10/p90 spread scales by the same factor as the median of the deepest timed depth. Check points
are also timed at full depth so that the rule's error is measured, not assumed. Plain Python: the
profiler calls it on the device, the tests on committed data.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from batchsim.simulator.profile_format import StepRecord


@dataclass(frozen=True)
class DepthPlan:
    """Which depths every grid point is timed at, and which points also run at full depth."""

    depths: tuple[int, ...]
    full: int
    check: frozenset[int]

    def __post_init__(self) -> None:
        if len(self.depths) < 2 or len(set(self.depths)) != len(self.depths):
            raise ValueError(f"depth scaling needs two or more distinct depths, got {self.depths}")
        if max(self.depths) >= self.full:
            raise ValueError(f"timed depth {max(self.depths)} is not below the model's {self.full} layers")

    @classmethod
    def from_options(cls, layers: tuple[int, ...], full: int, check_count: int, grid_size: int) -> "DepthPlan":
        """From ``--layers`` (one depth N means 0 and N) and ``--full-depth-check``."""
        depths = tuple(sorted(set(layers) | ({0} if len(set(layers)) == 1 else set())))
        return cls(depths, full, frozenset(check_indices(grid_size, check_count)))


def check_indices(grid_size: int, count: int) -> list[int]:
    """``count`` grid indices spread evenly from the first to the last point."""
    count = min(count, grid_size)
    if count <= 0:
        return []
    if count == 1:
        return [grid_size // 2]
    return sorted({round(i * (grid_size - 1) / (count - 1)) for i in range(count)})


def line_at(depths: list[int], values: list[float], target: int) -> float:
    """The least-squares line through (depth, value) evaluated at ``target`` depth."""
    n = len(depths)
    mean_d, mean_v = sum(depths) / n, sum(values) / n
    var = sum((d - mean_d) ** 2 for d in depths)
    slope = sum((d - mean_d) * (v - mean_v) for d, v in zip(depths, values)) / var
    return mean_v + slope * (target - mean_d)


def scale_to_depth(timed: list[tuple[int, StepRecord]], full: int) -> StepRecord:
    """The full-depth record of one grid point from its records at the timed depths."""
    failed = [record for _, record in timed if record.status != "ok"]
    if failed:
        return failed[0]
    depths = [layers for layers, _ in timed]
    deepest = max(timed, key=lambda pair: pair[0])[1]
    # more layers never run faster: a noisy line is floored at the deepest measurement
    wall = max(line_at(depths, [r.wall_s for _, r in timed], full), deepest.wall_s)
    gpu = max(line_at(depths, [r.gpu_s for _, r in timed], full), deepest.gpu_s)
    factor, gpu_factor = wall / deepest.wall_s, (gpu / deepest.gpu_s if deepest.gpu_s else 1.0)
    note = f"scaled to {full} layers from {','.join(map(str, depths))}" + (f"; {deepest.note}" if deepest.note else "")
    return replace(deepest, wall_s=wall, wall_p10_s=deepest.wall_p10_s * factor, wall_p90_s=deepest.wall_p90_s * factor,
                   gpu_s=gpu, gpu_p10_s=deepest.gpu_p10_s * gpu_factor, gpu_p90_s=deepest.gpu_p90_s * gpu_factor,
                   repeats=min(r.repeats for _, r in timed), note=note)


def time_point(runner, point, plan: DepthPlan, index: int) -> tuple[StepRecord, list[tuple[int, StepRecord]]]:
    """Time one grid point at every planned depth (and full depth if it is a check point)."""
    timed = [(layers, runner.run_point(point, layers)) for layers in plan.depths]
    checks = [(plan.full, runner.run_point(point, plan.full))] if index in plan.check else []
    return scale_to_depth(timed, plan.full), timed + checks


def full_depth_rows(rows: list[tuple[int, StepRecord]], full: int, points: int) -> list[StepRecord] | None:
    """The measured full-depth records when every one of ``points`` grid points has one, else None.

    Then nothing needs extrapolating: the profile keeps the measurements, and the scaled values
    (recomputed from the reduced-depth rows) serve only to check the rule.
    """
    measured = [record for layers, record in rows if layers == full]
    return measured if len(measured) == points else None


def check_errors(rows: list[tuple[int, StepRecord]], full: int) -> list[float]:
    """Signed relative errors (%) of the scaled time against the full-depth time, per check point.

    ``rows`` is depths.csv in order: a point's timed depths, then its full-depth row if checked.
    """
    errors, timed = [], []
    for layers, record in rows:
        if layers == full and timed:
            scaled = scale_to_depth(timed, full)
            if record.status == "ok" and scaled.status == "ok":
                errors.append(100.0 * (scaled.wall_s / record.wall_s - 1.0))
            timed = []
            continue
        if timed and layers <= timed[-1][0]:
            timed = []  # a new grid point begins
        timed.append((layers, record))
    return errors
