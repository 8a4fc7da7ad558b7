"""Reduced-depth scaling: the line through timed depths, evaluated at full depth (hand-computed)."""
import pytest

from batchsim.profiler.depth import DepthPlan, check_errors, check_indices, scale_to_depth
from batchsim.simulator.profile_format import StepRecord


def _record(wall_s: float, gpu_s: float | None = None, status: str = "ok") -> StepRecord:
    gpu = wall_s * 0.9 if gpu_s is None else gpu_s
    return StepRecord("decode", (), 4, 400, 100, wall_s, wall_s * 0.95, wall_s * 1.1, gpu, gpu, gpu, 7, status)


def test_two_depths_extrapolate_along_their_line():
    # 30 ms at 10 layers, 50 ms at 20: 2 ms a layer over a 10 ms fixed part -> 170 ms at 80
    scaled = scale_to_depth([(10, _record(0.030)), (20, _record(0.050))], 80)
    assert scaled.wall_s == pytest.approx(0.170)
    assert scaled.gpu_s == pytest.approx(0.9 * 0.170)
    # the spread scales with the median of the deepest timed depth: 170 / 50
    assert scaled.wall_p90_s == pytest.approx(0.050 * 1.1 * 170 / 50)
    assert "scaled to 80 layers from 10,20" in scaled.note


def test_one_depth_pairs_with_the_fixed_part():
    plan = DepthPlan.from_options((10,), 80, 0, 5)
    assert plan.depths == (0, 10) and not plan.check
    # 5 ms without layers, 15 ms with 10: 1 ms a layer -> 85 ms at 80
    assert scale_to_depth([(0, _record(0.005)), (10, _record(0.015))], 80).wall_s == pytest.approx(0.085)


def test_three_depths_use_the_least_squares_line():
    # points (10, 30), (20, 52), (30, 68): slope 1.9 ms/layer through the mean (20, 50) -> 50 + 60 * 1.9 = 164 ms
    timed = [(10, _record(0.030)), (20, _record(0.052)), (30, _record(0.068))]
    assert scale_to_depth(timed, 80).wall_s == pytest.approx(0.164)


def test_a_failed_depth_fails_the_point_and_time_never_falls_with_depth():
    failed = scale_to_depth([(10, _record(0.030)), (20, _record(0.0, 0.0, status="oom"))], 80)
    assert failed.status == "oom"
    # a line falling with depth (noise) is floored at the deepest measurement
    assert scale_to_depth([(10, _record(0.031)), (20, _record(0.030))], 80).wall_s == pytest.approx(0.030)


def test_check_errors_compare_scaled_and_full_depth_rows():
    rows = [(10, _record(0.030)), (20, _record(0.050)), (80, _record(0.160)),  # scaled 170 vs 160: +6.25%
            (10, _record(0.010)), (20, _record(0.020)),  # not checked
            (10, _record(0.010)), (20, _record(0.015)), (80, _record(0.050))]  # scaled 45 vs 50: -10%
    assert check_errors(rows, 80) == pytest.approx([6.25, -10.0])


def test_plan_checks_and_bounds():
    assert check_indices(71, 3) == [0, 35, 70]
    assert check_indices(5, 100) == [0, 1, 2, 3, 4]
    assert check_indices(5, 0) == []
    plan = DepthPlan.from_options((10, 20), 80, 3, 71)
    assert plan.check == frozenset({0, 35, 70})
    with pytest.raises(ValueError, match="not below"):
        DepthPlan((10, 80), 80, frozenset())
    with pytest.raises(ValueError, match="two or more"):
        DepthPlan((10,), 80, frozenset())
