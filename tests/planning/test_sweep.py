"""Sweep rows equal individual replays, serially, over processes and on Ray."""
import multiprocessing

import pandas as pd
import pytest

from batchsim.planning.grid import grid_from_sets
from batchsim.planning.scenario import Scenario, run_scenario, with_overrides
from batchsim.planning.sweep import (SweepTask, applicable_points, check_points, flatten_summary,
                                     run_sweep, write_results)
from tests.planning.traces import poisson_trace

BASE = Scenario(profile="roofline")


def tasks_for(sets, table):
    points = grid_from_sets(sets).points()
    check_points(BASE, points)
    return [SweepTask(i, BASE, settings, table) for i, settings in enumerate(points)]


@pytest.fixture(scope="module")
def table():
    return poisson_trace(400, 20.0, seed=7)


def test_rows_equal_individual_replays(table):
    tasks = tasks_for(["policy=static,continuous,chunked", "batch=8,32", "rate_scale=1,3"], table)
    frame = run_sweep(tasks)
    assert list(frame["point"]) == list(range(12))
    for task, (_, row) in zip(tasks, frame.iterrows()):
        s = task.settings
        scaled = table.copy()
        scaled["arrival_s"] = scaled["arrival_s"] / s["rate_scale"]
        scenario = with_overrides(BASE, {"policy": s["policy"], "batch_size": s["batch"],
                                         "max_num_seqs": s["batch"]})
        expected = flatten_summary(run_scenario(scenario, scaled).summary)
        for key, value in expected.items():
            assert row[key] == value or (value != value and row[key] != row[key]), key
        assert row["slots"] == s["batch"]
        assert row["offered_rate_per_s"] == pytest.approx(
            len(table) / (table["arrival_s"].max() - table["arrival_s"].min()) * s["rate_scale"])


def test_processes_give_the_serial_table(table):
    tasks = tasks_for(["policy=static,continuous", "max_num_seqs=8,64"], table)
    serial = run_sweep(tasks)
    done = []
    spawned = run_sweep(tasks, workers=2, on_done=done.append,
                        mp_context=multiprocessing.get_context("spawn"))
    pd.testing.assert_frame_equal(serial, spawned)
    assert sorted(done) == [0, 1, 2, 3]


def test_results_written_as_csv_and_parquet(tmp_path, table):
    frame = run_sweep(tasks_for(["block_size=16,32"], table))
    csv_path, parquet_path = write_results(frame, str(tmp_path / "out" / "results"))
    assert len(pd.read_csv(csv_path)) == 2
    pd.testing.assert_frame_equal(pd.read_parquet(parquet_path), frame)


def test_bad_point_is_named_before_anything_runs():
    points = grid_from_sets(["policy=chunked", "max_num_seqs=64,4096"]).points()
    with pytest.raises(ValueError, match="sweep point 1 .*max_num_seqs=4096.*below max_num_seqs"):
        check_points(BASE, points)


def test_ray_sweep_equals_serial(table):
    pytest.importorskip("ray")
    from batchsim.planning.sweep_ray import run_sweep_ray

    tasks = tasks_for(["policy=static,continuous", "rate_scale=1,2"], table)
    done = []
    on_ray = run_sweep_ray(tasks, None, done.append, num_cpus=2)
    pd.testing.assert_frame_equal(run_sweep(tasks), on_ray)
    assert sorted(done) == [0, 1, 2, 3]


def test_knobs_a_policy_ignores_do_not_multiply_points(table):
    points = grid_from_sets(["policy=static,continuous,chunked", "batch_size=8,32",
                             "max_num_seqs=8,32,128"]).points()
    kept, skipped = applicable_points(BASE, points)
    # static varies batch_size only (2 points); continuous and chunked max_num_seqs (3 each)
    assert (len(kept), skipped) == (8, 18 - 8)
    assert [p for p in kept if p["policy"] == "static"] == [
        {"policy": "static", "batch_size": 8}, {"policy": "static", "batch_size": 32}]
    assert all("batch_size" not in p for p in kept if p["policy"] != "static")
    frame = run_sweep([SweepTask(i, BASE, p, table) for i, p in enumerate(kept[:4])])
    assert frame["max_num_seqs"].isna().tolist() == [True, True, False, False]
    assert str(frame["max_num_seqs"].dtype) == "Int64"


def test_a_grid_of_knobs_every_policy_reads_skips_nothing():
    points = grid_from_sets(["policy=static,continuous", "batch=8,32", "block_size=16,32"]).points()
    assert applicable_points(BASE, points) == (points, 0)
