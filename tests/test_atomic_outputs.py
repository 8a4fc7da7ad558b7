"""Outputs are complete or absent: failures, full disks and Ctrl-C never leave a half-written file
or an old run's files beside a new run's."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from batchsim.atomic import (MANIFEST, OutputError, atomic_file, atomic_files, dumps_json,
                             output_directory, write_json)
from batchsim.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def test_atomic_file_leaves_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_file(target) as temp:
            temp.write_text("half")
            raise RuntimeError("writer died")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.csv"]  # no temporary left behind


def test_full_disk_names_the_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "results.csv"
    target.write_text("old\n")
    with pytest.raises(OutputError, match=r"results.csv: cannot write \(No space left on device\)"):
        with atomic_file(target) as temp:
            temp.write_text("partial row,")
            raise OSError(28, "No space left on device")
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["results.csv"]


def test_a_file_set_appears_together_or_not_at_all(tmp_path):
    stem = tmp_path / "sweep"
    for suffix in (".csv", ".parquet"):
        Path(f"{stem}{suffix}").write_text("old")
    with pytest.raises(OSError):
        with atomic_files([f"{stem}.csv", f"{stem}.parquet"]) as (csv_temp, parquet_temp):
            csv_temp.write_text("new")
            raise OSError(28, "No space left on device")  # while writing the Parquet
    assert {p.read_text() for p in tmp_path.iterdir()} == {"old"}
    with atomic_files([f"{stem}.csv", f"{stem}.parquet"]) as (csv_temp, parquet_temp):
        csv_temp.write_text("new")
        parquet_temp.write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.csv", "sweep.parquet"]
    assert {p.read_text() for p in tmp_path.iterdir()} == {"new"}


def test_output_directory_replaces_a_run_whole_and_only_on_success(tmp_path):
    run = tmp_path / "run"
    with output_directory(run) as staging:
        (staging / "requests.csv").write_text("first")
        (staging / "steps.csv").write_text("first")
    assert json.loads((run / MANIFEST).read_text())["files"] == ["requests.csv", "steps.csv"]
    with pytest.raises(KeyboardInterrupt):
        with output_directory(run) as staging:
            (staging / "requests.csv").write_text("second, cut short")
            raise KeyboardInterrupt
    assert (run / "requests.csv").read_text() == "first"  # the earlier run, whole
    with output_directory(run) as staging:
        (staging / "requests.csv").write_text("third")  # fewer files than before
    assert sorted(p.name for p in run.iterdir()) == [MANIFEST, "requests.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging or old folder


def test_json_never_holds_nan_or_infinity(tmp_path):
    text = dumps_json({"a": float("nan"), "b": [float("inf"), 1.5], "c": {"d": -float("inf")}})
    assert json.loads(text) == {"a": None, "b": [None, 1.5], "c": {"d": None}}
    write_json(tmp_path / "s.json", {"x": float("nan")})
    assert "NaN" not in (tmp_path / "s.json").read_text()


def test_replay_checks_out_before_simulating_and_writes_strict_json(capsys, tmp_path, monkeypatch):
    import batchsim.planning.scenario as scenario

    def never(*args, **kwargs):
        raise AssertionError("simulated before --out was checked")
    monkeypatch.setattr(scenario, "simulate", never)
    (tmp_path / "taken").write_text("x")
    assert main(["replay", "--limit", "20", "--out", str(tmp_path / "taken")]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    monkeypatch.undo()
    code = main(["replay", "--limit", "20", "--profile", "roofline", "--policy", "static",
                 "--max-wait-s", "0.5", "--out", str(tmp_path / "run")])
    assert code == 0
    json.loads((tmp_path / "run" / "summary.json").read_text(),
               parse_constant=lambda name: pytest.fail(f"{name} in summary.json"))


def test_replay_full_disk_leaves_no_output_and_names_the_path(capsys, tmp_path, monkeypatch):
    def full_disk(self, target, *args, **kwargs):
        if hasattr(target, "write"):  # rows streamed into an open file
            target.write("arrival_s,first_tok")  # a row cut in half
        else:
            Path(target).write_text("arrival_s,first_tok")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    code = main(["replay", "--limit", "20", "--profile", "roofline", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{tmp_path / 'run'}: cannot write (No space left on device)" in err
    assert list(tmp_path.iterdir()) == []


def _sweep_args(out: Path, workers: int) -> list[str]:
    return ["sweep", "--set", "max_num_seqs=4,8,16", "--set", "policy=continuous,chunked",
            "--limit", "60", "--profile", "roofline", "--workers", str(workers), "--out", str(out)]


def test_serial_and_parallel_sweeps_are_byte_identical(capsys, tmp_path):
    assert main(_sweep_args(tmp_path / "serial", 1)) == 0
    assert main(_sweep_args(tmp_path / "parallel", 2)) == 0
    for suffix in (".csv", ".parquet"):
        assert (Path(f"{tmp_path / 'serial'}{suffix}").read_bytes()
                == Path(f"{tmp_path / 'parallel'}{suffix}").read_bytes())
    assert not Path(f"{tmp_path / 'serial'}.partial.jsonl").exists()


def test_resumed_sweep_equals_an_uninterrupted_one(capsys, tmp_path, monkeypatch):
    import batchsim.planning.sweep as sweep

    assert main(_sweep_args(tmp_path / "whole", 1)) == 0
    real_run_point, calls = sweep.run_point, []

    def interrupted_after_three(task):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(task.index)
        return real_run_point(task)
    monkeypatch.setattr(sweep, "run_point", interrupted_after_three)
    assert main(_sweep_args(tmp_path / "cut", 1)) == 130
    err = capsys.readouterr().err
    assert "cut.partial.jsonl" in err and "--resume" in err and "Traceback" not in err
    assert not Path(f"{tmp_path / 'cut'}.csv").exists()  # no results that look finished
    partial = Path(f"{tmp_path / 'cut'}.partial.jsonl").read_text().splitlines()
    assert len(partial) == 1 + 3  # the fingerprint line and three finished points
    monkeypatch.setattr(sweep, "run_point", real_run_point)
    assert main(_sweep_args(tmp_path / "cut", 1) + ["--resume"]) == 0
    assert Path(f"{tmp_path / 'cut'}.csv").read_bytes() == Path(f"{tmp_path / 'whole'}.csv").read_bytes()
    assert not Path(f"{tmp_path / 'cut'}.partial.jsonl").exists()


def test_resume_refuses_a_partial_file_of_another_sweep(capsys, tmp_path):
    Path(f"{tmp_path / 'cut'}.partial.jsonl").write_text('{"fingerprint": "other"}\n')
    assert main(_sweep_args(tmp_path / "cut", 1) + ["--resume"]) == 2
    assert "from a different sweep" in capsys.readouterr().err


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated")])
def test_sigint_and_kill_leave_no_traceback_or_output(tmp_path, sig, code, word):
    out = tmp_path / "sw"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    seqs = ",".join(str(n) for n in range(1, 200))  # far longer than the wait below
    process = subprocess.Popen(
        [sys.executable, "-m", "batchsim.cli.main", "sweep", f"--set=max_num_seqs={seqs}",
         "--profile", "roofline", "--workers", "1", "--out", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # signal once the sweep is under way (its first finished point is on disk), however slow
    # the machine: a signal during start-up would test Python's handlers, not batchsim's
    partial = tmp_path / "sw.partial.jsonl"
    deadline = time.monotonic() + 120
    while not partial.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith(f"batchsim: {word}")
    # no results that read as finished, no temporaries: at most the partial file, named so
    assert {p.name for p in tmp_path.iterdir()} <= {"sw.partial.jsonl"}
