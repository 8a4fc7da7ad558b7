"""Calibration recovers the coefficients behind a run from per-request times alone, and a
profile calibrated on one GPU carries to another by the datasheet ratio."""
import json
from dataclasses import replace

import numpy as np
import pytest

from batchsim.cli.main import main
from batchsim.planning.calibrate import evaluate, fit
from batchsim.planning.observed import ObservedRun, requests_from_columns
from batchsim.planning.scenario import Scenario, run_scenario
from batchsim.simulator.calibrated_cost import Coefficients, calibrated_cost_model, read_calibration
from batchsim.simulator.config import ServingConfig
from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.models import get_model
from batchsim.simulator.summary import request_table

MODEL = get_model("llama-3.1-8b")
TRUTH = Coefficients(host_s=3e-3, hbm_fraction=0.6, flop_fraction=0.45, per_sequence_s=2e-5,
                     per_token_s=0.0)
SERVING = ServingConfig(policy="chunked", max_num_seqs=32, max_num_batched_tokens=1024,
                        kv_blocks=3000, watermark=0.0, max_model_len=8192)


def engine_run(gpu_name: str, coefficients=TRUTH, count=80, rate_per_s=6.0, seed=1) -> ObservedRun:
    """A run of an engine whose steps cost exactly ``coefficients`` on ``gpu_name``: the
    per-request times a user would record, and nothing else."""
    rng = np.random.default_rng(seed)
    table = __import__("pandas").DataFrame({
        "arrival_s": np.cumsum(rng.exponential(1 / rate_per_s, count)),
        "prompt_tokens": rng.integers(50, 1500, count), "output_tokens": rng.integers(20, 300, count),
        "request_id": np.arange(count)})
    gpu = get_gpu(gpu_name)
    outcome = run_scenario(Scenario(gpu=gpu, model=MODEL, serving=SERVING), table,
                           calibrated_cost_model(coefficients, MODEL, gpu))
    done = request_table(outcome.result)
    ids = done["request_id"].tolist()
    requests = requests_from_columns(ids, done["arrival_s"], done["first_token_s"], done["finish_s"],
                                     done["prompt_tokens"], done["output_tokens"])
    return ObservedRun(f"{gpu_name}-engine", "vllm", gpu_name, requests, MODEL, gpu, SERVING,
                       ("cuda-graph",))


def worst_error(comparison) -> float:
    return max(abs(row["rel_error"]) for row in comparison.rows())


def test_the_roofline_defaults_miss_an_engine_that_is_slower_than_them():
    run = engine_run("rtx4090")
    assert worst_error(evaluate(Coefficients(), run)) > 0.2


def test_calibration_reproduces_the_run_it_was_fitted_to():
    run = engine_run("rtx4090")
    fitted = fit([run])
    assert fitted.loss < 1e-3
    assert worst_error(fitted.comparisons[0]) < 0.03


def test_a_profile_calibrated_on_one_gpu_carries_to_another_by_the_datasheet_ratio():
    fitted = fit([engine_run("rtx4090")])
    other = engine_run("l40s", count=120, rate_per_s=10.0, seed=2)  # same engine, another GPU and load
    assert worst_error(evaluate(fitted.coefficients, other)) < 0.05


def test_calibrate_writes_a_profile_that_validate_accepts(tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    run = engine_run("rtx4090", count=40)
    reqs = run.requests
    lines = [json.dumps({"request_id": f"bench-{i}", "input_toks": int(p), "output_toks": int(o),
                         "queued_ts": 100 + a, "first_token_ts": 100 + f, "last_token_ts": 100 + l})
             for i, a, f, l, p, o in zip(reqs.request_id, reqs.arrival_s, reqs.first_token_s,
                                         reqs.last_token_s, reqs.prompt_tokens, reqs.output_tokens)]
    (folder / "requests.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "meta.json").write_text(json.dumps({
        "model": "meta-llama/Llama-3.1-8B", "hardware": {"device_name": "NVIDIA GeForce RTX 4090"},
        "engine_kwargs": {"max_num_seqs": 32, "max_num_batched_tokens": 1024, "max_model_len": 8192},
        "kv_cache": {"num_gpu_blocks": 3000, "block_size": 16, "enable_prefix_caching": False}}))
    out = tmp_path / "cal"
    assert main(["calibrate", str(folder), "--out", str(out)]) == 0
    meta, coefficients = read_calibration(out)
    assert meta["name"] == "cal" and meta["calibrated_on"]["gpu"]["name"] == "rtx4090"
    assert str(folder) in meta["fit"]["runs"]
    capsys.readouterr()
    assert main(["validate", str(folder), "--profile", str(out), "--gpu", "l40s"]) == 0
    printed = capsys.readouterr().out
    assert "calibrated profile cal (llama-3.1-8b on l40s" in printed


def test_a_bad_calibration_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "calibration.yaml").write_text(
        "format: batchsim-calibration/1\nname: x\ncoefficients: {host_s: 0.001, warp_factor: 9}\n")
    assert main(["replay", "--profile", str(tmp_path), "--limit", "5"]) == 2
    err = capsys.readouterr().err
    assert "calibration.yaml: unknown key 'coefficients.warp_factor'" in err and err.count("\n") == 1


def test_the_fit_reports_each_simulation_it_runs():
    # a progress bar counts evaluations: one call per simulation the search ran, no more
    calls = []
    result = fit([engine_run("h200", count=20)], on_evaluation=lambda: calls.append(1))
    assert len(calls) == result.evaluations > 0
