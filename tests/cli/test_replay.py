"""``batchsim replay`` end to end: report, JSON, outputs, scenarios and one-line errors."""
import json

import pytest

from batchsim.cli.main import main


def replay(capsys, *args):
    code = main(["replay", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_default_replay_prints_the_report(capsys):
    code, out, _ = replay(capsys, "--limit", "300")
    assert code == 0
    assert "Output token throughput (tok/s):" in out
    assert "P99 TTFT (ms):" in out and "Slot utilization (batch capacity used):" in out
    assert "Run verdict (queue growth):" in out and "Peak concurrent requests:" in out
    assert "bundled default" in out


def test_json_uses_vllm_key_names(capsys):
    code, out, _ = replay(capsys, "--limit", "200", "--json", "--slo", "ttft=2s,tpot=100ms")
    summary = json.loads(out)
    assert code == 0
    assert summary["completed"] + summary["rejected"] == 200
    assert summary["request_goodput"] is not None
    assert summary["completed"] + summary["failed"] == 200
    assert summary["p99_ttft_ms"] >= summary["p90_ttft_ms"] >= summary["p50_ttft_ms"]


def test_continuous_and_chunked_beat_static_batching_several_times(capsys):
    throughput = {}
    for policy in ("static", "continuous", "chunked"):
        knobs = ("--batch-size", "8") if policy == "static" else ()
        _, out, _ = replay(capsys, "--limit", "1500", "--json", "--policy", policy, *knobs,
                           "--profile", "roofline")
        throughput[policy] = json.loads(out)["output_throughput"]
    assert throughput["continuous"] > 2.5 * throughput["static"]
    assert throughput["chunked"] > 2.5 * throughput["static"]


def test_outputs_are_written_and_byte_identical_across_runs(capsys, tmp_path):
    for name in ("a", "b"):
        code, _, _ = replay(capsys, "--limit", "300", "--out", str(tmp_path / name),
                            "--policy", "chunked")
        assert code == 0
    for file in ("requests.csv", "steps.csv", "summary.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    header = (tmp_path / "a" / "requests.csv").read_text().splitlines()[0]
    assert header.startswith("request_id,arrival_s,first_token_s,finish_s,prompt_tokens")


def test_yaml_scenario_with_flag_override(capsys, tmp_path):
    config = tmp_path / "scenario.yaml"
    config.write_text("policy: static\nbatch_size: 4\n")
    code, out, _ = replay(capsys, "--config", str(config), "--limit", "100", "--batch-size", "2")
    assert code == 0
    assert "static (batch_size=2" in out


@pytest.mark.parametrize("args, message", [
    (["--policy", "magic"], "unknown policy 'magic'"),
    (["--gpu", "tpu9", "--profile", "roofline"], "unknown GPU 'tpu9'"),
    (["--batch-size", "0"], "batch_size: must be at least 1, got 0"),
    (["--policy", "chunked", "--max-num-seqs", "512", "--max-num-batched-tokens", "256"],
     "below max_num_seqs"),
    (["--trace", "/nonexistent/trace.csv"], "trace.csv"),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, args, message):
    code, out, err = replay(capsys, "--limit", "50", *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_yaml_key_is_named(capsys, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("policy: continuous\nmax_seqs: 8\n")
    code, _, err = replay(capsys, "--config", str(config))
    assert code == 2 and "bad.yaml line 2: max_seqs: unknown key" in err


def test_a_70b_model_needs_tensor_parallelism(capsys):
    code, _, err = replay(capsys, "--model", "llama-3-70b", "--profile", "roofline", "--limit", "20")
    assert code == 2 and "no room for a KV cache" in err
    code, out, _ = replay(capsys, "--model", "llama-3-70b", "--tp", "4", "--limit", "50", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["gpus"] == 4 and summary["completed"] > 0


def test_report_and_json_say_how_far_steps_went_beyond_the_measured_range(capsys, tmp_path):
    # a 6,000-token prompt decodes with contexts past the bundled profile's 4,097
    trace = tmp_path / "long.csv"
    trace.write_text("arrival_s,prompt_tokens,output_tokens\n0.0,100,20\n0.5,6000,20\n")
    code, out, _ = replay(capsys, "--trace", str(trace))
    assert code == 0
    assert "Range:                extrapolated:" in out and "Measured range" in out
    code, out, _ = replay(capsys, "--trace", str(trace), "--json")
    entry = json.loads(out)["extrapolation"]
    assert entry["status"] == "extrapolated" and entry["worst_dimension"] == "context per decode"
    assert entry["worst_ratio"] == pytest.approx((6000 + 19) / 4097, rel=1e-3)
    code, out, err = replay(capsys, "--trace", str(trace), "--strict-range")
    assert code == 2 and out == ""
    assert err.strip().startswith("batchsim: error: --strict-range: the replay goes beyond")
    assert "context per decode 1.47x" in err and len(err.strip().splitlines()) == 1
    code, out, _ = replay(capsys, "--trace", str(trace), "--profile", "roofline", "--strict-range")
    assert code == 0 and "unprofiled: roofline estimate" in out


def test_replay_runs_a_model_and_gpu_outside_the_catalog_on_the_roofline(capsys, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "model_type": "qwen2", "hidden_size": 2048, "intermediate_size": 11008,
        "num_hidden_layers": 36, "num_attention_heads": 16, "num_key_value_heads": 2,
        "vocab_size": 151936, "max_position_embeddings": 32768, "tie_word_embeddings": True,
        "torch_dtype": "bfloat16"}))
    gpu = tmp_path / "gpu.yaml"
    gpu.write_text("name: lab-gpu\nbf16_flops: 300.0e12\nhbm_bytes_per_s: 1.5e12\n"
                   "memory_bytes: 40000000000\nhost_link_bytes_per_s: 32.0e9\nnvlink_bytes_per_s: 32.0e9\n")
    code, out, _ = replay(capsys, "--model", str(config), "--gpu", str(gpu), "--limit", "100")
    assert code == 0
    assert "roofline, UNPROFILED" in out and "on lab-gpu" in out
    code, out, _ = replay(capsys, "--model", str(config), "--gpu", str(gpu), "--limit", "100", "--json")
    summary = json.loads(out)
    assert summary["profiled"] is False and summary["completed"] == 100


def test_a_profiled_replay_says_so_in_its_json(capsys):
    code, out, _ = replay(capsys, "--limit", "50", "--json")
    assert code == 0 and json.loads(out)["profiled"] is True


def test_a_bad_datasheet_is_a_one_line_error(capsys, tmp_path):
    gpu = tmp_path / "gpu.yaml"
    gpu.write_text("name: x\nbf16_flops: fast\n")
    code, _, err = replay(capsys, "--gpu", str(gpu), "--limit", "10")
    assert code == 2
    assert err.strip().count("\n") == 0 and "gpu.yaml: key 'bf16_flops' must be a positive number" in err


def test_sectioned_yaml_with_paths_relative_to_the_file(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "study"
    folder.mkdir()
    rows = "\n".join(f"{i},{100 + i},{10 + i}" for i in range(40))
    (folder / "t.csv").write_text("arrival_s,prompt_tokens,output_tokens\n" + rows + "\n")
    (folder / "scenario.yaml").write_text(
        "trace:\n  path: t.csv\n  limit: 12\n  rate_scale: 2\n"
        "policy:\n  name: chunked\n  max_num_seqs: 16\n  max_num_batched_tokens: 512\n"
        "hardware:\n  gpu: h200\n  replicas: 2\n"
        "cost model:\n  model: llama-3-8b\n  profile: roofline\n"
        "slo:\n  ttft_p99: 2s\n  tpot_p99: 100ms\n"
        "output:\n  out: run\n  json: true\n")
    monkeypatch.chdir(tmp_path)  # the YAML's paths are the YAML folder's, not the cwd's
    code, out, err = replay(capsys, "--config", str(folder / "scenario.yaml"))
    assert code == 0, err
    result = json.loads(out)
    assert result["completed"] + result["rejected"] == 12
    assert result["policy"] == "chunked" and result["gpus"] == 2
    assert result["request_goodput"] is not None
    assert (folder / "run" / "summary.json").is_file()
    # a flag still wins over the file
    code, out, _ = replay(capsys, "--config", str(folder / "scenario.yaml"), "--limit", "7")
    assert code == 0 and json.loads(out)["completed"] + json.loads(out)["rejected"] == 7


def test_trace_format_in_a_scenario_is_used(capsys, tmp_path):
    (tmp_path / "t.csv").write_text("arrival_s,prompt_tokens,output_tokens\n0,1,1\n")
    (tmp_path / "s.yaml").write_text("trace: t.csv\ntrace_format: azure\n")
    code, _, err = replay(capsys, "--config", str(tmp_path / "s.yaml"))
    assert code == 2 and "missing column(s) TIMESTAMP" in err


def test_sampled_step_times_are_seeded_and_named_in_the_report(capsys):
    import json as _json

    from batchsim.cli.main import main as _main

    args = ["replay", "--profile", "h200-llama-3-8b-engine", "--limit", "40", "--block-size", "256",
            "--max-num-batched-tokens", "512", "--json", "--step-time", "sampled"]
    outputs = []
    for seed in ("1", "1", "2"):
        assert _main(args + ["--seed", seed]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and outputs[0] != outputs[2]
    summary = _json.loads(outputs[0])
    assert summary["step_time"].startswith("sampled (seed 1)") and summary["profile_mismatch"] == []


def test_a_profile_of_another_engine_configuration_is_an_error_unless_allowed(capsys):
    from batchsim.cli.main import main as _main

    args = ["replay", "--profile", "h200-llama-3-8b-engine", "--limit", "20"]
    assert _main(args) == 2
    assert "block_size: run 16, profile 256" in capsys.readouterr().err
    assert _main(args + ["--allow-profile-mismatch"]) == 0
    assert "PROFILE MISMATCH:     block_size: run 16, profile 256" in capsys.readouterr().out
