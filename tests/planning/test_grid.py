"""Sweep grids: typed values, cartesian points, YAML axes and fixed settings, clear errors."""
import pytest

from batchsim.planning.grid import SweepGrid, grid_from_sets, load_grid, parse_set, scenario_overrides


def test_set_flags_are_typed_by_their_field():
    assert parse_set("max_num_seqs=8,16,32") == ("max_num_seqs", (8, 16, 32))
    assert parse_set("policy=static,continuous") == ("policy", ("static", "continuous"))
    assert parse_set("rate-scale=0.5,2") == ("rate_scale", (0.5, 2.0))
    assert parse_set("max_num_batched_tokens=none,2048") == ("max_num_batched_tokens",
                                                             (None, 2048))


@pytest.mark.parametrize("text, message", [
    ("max_num_seqs=8,x", "max_num_seqs: 'x' is not an integer"),
    ("speed=1,2", "unknown sweep setting 'speed'"),
    ("rate_scale=0", "rate_scale: '0' is not a positive finite number"),
    ("policy", "expected SETTING=V1,V2"),
    ("gpu_memory_utilization=high", "is not a finite number")])
def test_bad_set_flags_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        parse_set(text)


def test_points_are_the_product_first_axis_slowest():
    grid = grid_from_sets(["policy=static,continuous", "batch=8,16,32"])
    points = grid.points()
    assert len(points) == 6
    assert points[:4] == [{"policy": "static", "batch": 8}, {"policy": "static", "batch": 16},
                          {"policy": "static", "batch": 32}, {"policy": "continuous", "batch": 8}]


def test_batch_sets_both_limits_and_rate_scale_is_separate():
    overrides, scale = scenario_overrides({"policy": "static", "batch": 16, "rate_scale": 2.0})
    assert overrides == {"policy": "static", "batch_size": 16, "max_num_seqs": 16}
    assert scale == 2.0
    with pytest.raises(ValueError, match="do not also set"):
        SweepGrid((("batch", (8,)), ("max_num_seqs", (8,))))
    with pytest.raises(ValueError, match="given twice"):
        SweepGrid((("policy", ("static",)),), (("policy", "chunked"),))


def test_yaml_lists_are_axes_and_scalars_are_fixed(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("policy: [static, continuous]\nmax-num-seqs: [16, 64]\nmodel: llama-3-8b\n"
                    "rate_scale: 2\n")
    grid = load_grid(str(path))
    assert grid.axes == (("policy", ("static", "continuous")), ("max_num_seqs", (16, 64)))
    assert dict(grid.fixed) == {"model": "llama-3-8b", "rate_scale": 2.0}
    assert grid.points()[0] == {"model": "llama-3-8b", "rate_scale": 2.0, "policy": "static",
                                "max_num_seqs": 16}


@pytest.mark.parametrize("text, message", [
    ("policy: [static\n", r"grid.yaml line \d+: not valid YAML"),
    ("- 1\n- 2\n", "a sweep grid is a mapping"),
    ("block_size: [8, big]\n", "block_size: 'big' is not an integer"),
    ("policy: {a: 1}\n", "expected a value or a list")])
def test_bad_grid_files_name_file_and_problem(tmp_path, text, message):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_grid(str(path))
