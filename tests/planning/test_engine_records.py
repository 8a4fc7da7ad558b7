"""validate accepts records as engines write them: engine-reported settings, a model given as a
config, and requests whose timestamps restarted after preemption."""
import json

import numpy as np
import pytest

from batchsim.planning.records import Record, check_record, observed_run
from batchsim.planning.validate import compare, real_metrics, scenario_for
from tests.planning.test_validate import lone_request_record


def restarted_record():
    """Three lone requests; the second lost its first 7 timestamps (soft reset on preemption)."""
    data = lone_request_record([300, 1200, 50], [40, 10, 200])
    data["requests"][1]["token_times"] = data["requests"][1]["token_times"][7:]
    return data


@pytest.mark.parametrize("reported", [[False, True], {"varlen": False, "decode": True}, True])
def test_cuda_graphs_as_the_engine_reports_them_are_accepted(reported):
    data = lone_request_record([10], [2])
    data["engine_config"]["use_cuda_graph"] = reported
    check_record(data, "run.json")


def test_a_request_with_restarted_timestamps_counts_for_throughput_and_e2e_only():
    data = restarted_record()
    reqs = data["requests"]
    metrics = real_metrics(Record(data, "x"))
    ttfts = [(r["token_times"][0] - r["arrival"]) * 1e3 for r in (reqs[0], reqs[2])]
    e2es = [(r["token_times"][-1] - r["arrival"]) * 1e3 for r in reqs]
    duration = max(r["token_times"][-1] for r in reqs) - reqs[0]["arrival"]
    assert metrics["ttft_mean"] == pytest.approx(np.mean(ttfts))
    assert metrics["e2e_mean"] == pytest.approx(np.mean(e2es))
    assert metrics["output_throughput"] == pytest.approx((40 + 10 + 200) / duration)
    run = observed_run(Record(data, "x"))
    assert run.requests.restarted == 1
    assert any("1 request(s) with timestamps restarted" in note for note in run.notes)


def test_restarted_requests_are_left_out_of_the_simulated_ttft_too():
    comparison = compare(Record(restarted_record(), "lone.json"), profile="roofline")
    for row in comparison.rows():
        # the simulator pools every gap, the real side leaves the restarted request's out
        bound = 1e-2 if row["metric"].startswith("itl") else 1e-9
        assert row["rel_error"] == pytest.approx(0.0, abs=bound), row


def test_a_model_given_as_a_config_matches_profiles_by_its_shapes():
    data = lone_request_record([10], [2])
    data["engine_config"]["block_size"] = 256  # the engine's own, which the engine profile ran
    data["model_config"].update(max_position_embeddings=131072, rope_scaling={"factor": 8.0})
    run = observed_run(Record(data, "x"))
    assert run.model.name == "llama-3-8b"  # same cost shape as the catalog entry
    assert scenario_for(run).profile == "h200-llama-3-8b-engine-served"  # graphs off, 512-token budget
    data["model_config"]["num_hidden_layers"] = 30
    run = observed_run(Record(data, "x"))
    assert run.model.name == "custom" and scenario_for(run).profile is None


def test_validate_cli_prints_the_restart_note(capsys, tmp_path):
    from batchsim.cli.main import main

    path = tmp_path / "run.json"
    path.write_text(json.dumps(restarted_record()))
    assert main(["validate", str(path), "--profile", "roofline", "--out", str(tmp_path / "fid")]) == 0
    out = capsys.readouterr().out
    assert "note: 1 request(s) with timestamps restarted" in out and "roofline, UNPROFILED" in out
    rows = json.loads((tmp_path / "fid" / "fidelity.json").read_text())
    assert all(row["profiled"] is False and "restarted" in row["notes"] for row in rows)
