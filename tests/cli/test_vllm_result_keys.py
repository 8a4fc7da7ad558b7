"""``batchsim replay --json`` is a superset of ``vllm bench serve --save-result``.

The fixture data/vllm_save_result.json holds the keys vLLM writes, in its order, with values of
vLLM's types (the numbers are placeholders: only keys and types are compared). The keys come
from vllm/benchmarks/serve.py, neuralmagic/vllm commit 32f5573e4e5b1600dd063848c12a602d3148d721:
``main_async`` (date ... max_concurrency), ``benchmark`` (duration ... max_concurrent_requests)
and ``process_one_metric`` (mean/median/std/p{N}_{metric}_ms) for a run with
``--goodput ttft:2000 --metric-percentiles 50,90,99 --percentile-metrics ttft,tpot,itl,e2el``.
"""
import json
from pathlib import Path

import pytest

from batchsim.cli.main import main

VLLM_RESULT = json.loads((Path(__file__).parent / "data" / "vllm_save_result.json").read_text())


def replay_json(capsys, *args):
    code = main(["replay", "--limit", "300", "--json", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def json_type(value):
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else type(value).__name__


def test_every_vllm_key_is_written_with_vllms_type(capsys):
    result = replay_json(capsys, "--slo", "ttft=2s", "--metric-percentiles", "50,90,99")
    missing = [key for key in VLLM_RESULT if key not in result]
    assert missing == []
    for key, value in VLLM_RESULT.items():
        assert json_type(result[key]) == json_type(value), key
        assert isinstance(result[key], int) == isinstance(value, int), key  # counts stay whole


def test_percentile_flags_select_keys_as_vllm_does(capsys):
    result = replay_json(capsys, "--metric-percentiles", "25,99.9", "--percentile-metrics",
                         "ttft,e2el")
    assert {"p25_ttft_ms", "p99.9_ttft_ms", "p25_e2el_ms", "median_e2el_ms"} <= result.keys()
    assert not any(key.endswith("_itl_ms") or key.endswith("_tpot_ms") for key in result)
    assert "p99_ttft_ms" not in result and not any(k.startswith("percentiles_") for k in result)
    assert result["p25_ttft_ms"] <= result["median_ttft_ms"] <= result["p99.9_ttft_ms"]


def test_setup_keys_describe_the_replayed_trace(capsys):
    result = replay_json(capsys, "--date", "20261202-103000", "--model", "llama-3-8b")
    assert result["date"] == "20261202-103000" and result["model_id"] == "llama-3-8b"
    assert result["num_prompts"] == 300 == result["completed"] + result["failed"]
    assert result["failed"] == result["rejected"]
    assert result["request_rate"] > 0 and result["burstiness"] > 0
    # a peak second holds at least the mean rate's tokens; one request counts in its seconds
    assert result["max_output_tokens_per_s"] >= result["output_throughput"] * 0.99
    assert result["max_concurrent_requests"] >= 1


def test_date_never_comes_from_the_clock(capsys, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert replay_json(capsys)["date"] == "19700101-000000"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764671400")  # 2025-12-02 10:30:00 UTC
    assert replay_json(capsys)["date"] == "20251202-103000"


def test_save_detailed_adds_vllms_per_request_lists(capsys):
    result = replay_json(capsys, "--save-detailed", "--max-model-len", "1500")
    assert {len(result[k]) for k in ("input_lens", "output_lens", "ttfts", "errors")} == {300}
    failed = [i for i, error in enumerate(result["errors"]) if error]
    assert len(failed) == result["failed"] > 0
    assert all(result["output_lens"][i] == 0 and result["ttfts"][i] == 0.0 for i in failed)
    assert sum(result["output_lens"]) == result["total_output_tokens"]
    assert "exceeds max_model_len" in result["errors"][failed[0]]


@pytest.mark.parametrize("args, message", [
    (["--metric-percentiles", "p99"], "--metric-percentiles 'p99'"),
    (["--metric-percentiles", "101"], "0..100"),
    (["--percentile-metrics", "ttft,latency"], "unknown metric 'latency'"),
    (["--date", "yesterday"], "bad date 'yesterday'"),
])
def test_bad_result_flags_are_one_line_errors(capsys, args, message):
    code = main(["replay", "--limit", "20", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
