"""Tests for the recorder's pure parts: record format, trace CSV, token-time bookkeeping, cases."""
from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from batchsim.traces.record_format import (make_request_entry, relative_times, round_time, run_summary,
                                    static_token_times, validate_record)
from batchsim.profiler.trace_csv import TraceRow, read_trace_csv, write_trace_csv

REPO = Path(__file__).resolve().parents[2]


def make_record(engine: str = "hf_cb") -> dict:
    """A small valid record: two requests, times worked out by hand."""
    engine_config = ({"batch_size": 4} if engine == "hf_static" else
                     {"block_size": 256, "num_blocks": 100, "max_batch_tokens": 512,
                      "max_requests_per_batch": 512, "scheduler_type": "fifo",
                      "use_cuda_graph": False, "use_async_batching": False})
    return {
        "case": "unit", "engine": engine,
        "model_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                         "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000},
        "engine_config": engine_config, "gpu": "NVIDIA H200", "torch": "2.11.0",
        "transformers": "5.17.0",
        "requests": [
            make_request_entry(0, 0.0, 0.0001, 10, 3, [0.05, 0.06, 0.07]),
            make_request_entry(1, 0.5, 0.5002, 20, 2, [0.6, 0.62]),
        ],
    }


def test_valid_records_pass():
    validate_record(make_record("hf_cb"))
    validate_record(make_record("hf_static"))


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r.pop("gpu"), "gpu"),
    (lambda r: r.update(engine="vllm"), "engine"),
    (lambda r: r["model_config"].pop("vocab_size"), "model_config.vocab_size"),
    (lambda r: r["engine_config"].update(num_blocks=0), "engine_config.num_blocks"),
    (lambda r: r["engine_config"].update(use_cuda_graph=1), "engine_config.use_cuda_graph"),
    (lambda r: r["engine_config"].update(block_size=True), "engine_config.block_size"),
    (lambda r: r["engine_config"].pop("scheduler_type"), "engine_config.scheduler_type"),
    (lambda r: r.update(requests=[]), "requests"),
    (lambda r: r["requests"][1].update(i=0), "requests[1].i"),
    (lambda r: r["requests"][0].update(submit=-0.1), "requests[0].submit"),
    (lambda r: r["requests"][1].update(submit=0.4), "requests[1].submit"),
    (lambda r: r["requests"][0].update(n_gen=2), "requests[0].n_gen"),
    (lambda r: r["requests"][0].update(out=4), "requests[0].n_gen"),
    (lambda r: r["requests"][0]["token_times"].reverse(), "requests[0].token_times"),
    (lambda r: r["requests"][1].update(token_times=[0.3, 0.62]), "requests[1].token_times"),
    (lambda r: r["requests"][0].pop("arrival"), "requests[0].arrival"),
])
def test_invalid_records_name_the_field(mutate, field):
    record = make_record()
    mutate(record)
    with pytest.raises(ValueError, match=re.escape(f"record field {field}:")):
        validate_record(record)


def test_static_record_needs_batch_size():
    record = make_record("hf_static")
    record["engine_config"] = {"batch_size": 0}
    with pytest.raises(ValueError, match="engine_config.batch_size"):
        validate_record(record)


def test_record_survives_json_round_trip():
    record = make_record()
    validate_record(json.loads(json.dumps(record)))


def test_times_round_to_microseconds():
    entry = make_request_entry(3, 1.23456789, 1.2345681, 5, 2, [2.0000004, 2.0000016])
    assert entry["arrival"] == 1.234568
    assert entry["submit"] == 1.234568
    assert entry["token_times"] == [2.0, 2.000002]
    assert entry["n_gen"] == 2
    assert round_time(0.0000004) == 0.0


def test_relative_times_subtract_run_start():
    assert relative_times([10.5, 11.0, 12.25], 10.0) == [0.5, 1.0, 2.25]


def test_static_rows_take_their_own_first_steps():
    steps = [1.0, 1.1, 1.2, 1.3, 1.4]
    assert static_token_times(steps, 2) == [1.0, 1.1]
    assert static_token_times(steps, 5) == steps
    with pytest.raises(ValueError, match="fewer than"):
        static_token_times(steps, 6)


def test_run_summary_by_hand():
    summary = run_summary(make_record())
    # First arrival 0.0, last token 0.62: 5 output tokens over 0.62 s.
    assert summary["requests"] == 2
    assert summary["output_tokens"] == 5
    assert summary["prompt_tokens"] == 30
    assert summary["duration_s"] == pytest.approx(0.62)
    assert summary["output_tokens_per_s"] == pytest.approx(5 / 0.62)


def test_trace_csv_round_trip(tmp_path):
    rows = [TraceRow(0.0, 100, 10, "a"), TraceRow(0.25, 2000, 5, "b"), TraceRow(0.25, 7, 1, "c")]
    path = tmp_path / "t.csv"
    write_trace_csv(path, rows)
    assert read_trace_csv(path) == rows


def test_trace_csv_without_request_id(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,prompt_tokens,output_tokens\n0,5,6\n1.5,7,8\n")
    assert read_trace_csv(path) == [TraceRow(0.0, 5, 6), TraceRow(1.5, 7, 8)]


@pytest.mark.parametrize("body, message", [
    ("arrival_s,prompt_tokens\n0,5\n", "lacks column"),
    ("arrival_s,prompt_tokens,output_tokens\n", "no requests"),
    ("arrival_s,prompt_tokens,output_tokens\n0,5,6\nx,5,6\n", "line 3: arrival_s 'x'"),
    ("arrival_s,prompt_tokens,output_tokens\n0,5.5,6\n", "line 2: prompt_tokens"),
    ("arrival_s,prompt_tokens,output_tokens\n0,5,0\n", "line 2: output_tokens must be positive"),
    ("arrival_s,prompt_tokens,output_tokens\n-1,5,6\n", "non-negative"),
    ("arrival_s,prompt_tokens,output_tokens\n2,5,6\n1,5,6\n", "line 3.*sorted"),
])
def test_trace_csv_errors_name_line_and_field(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ValueError, match=message):
        read_trace_csv(path)


def _load_cases_module():
    path = REPO / "benchmarks" / "make_fidelity_cases.py"
    spec = importlib.util.spec_from_file_location("make_fidelity_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_case_traces_are_deterministic():
    cases = _load_cases_module()
    for kind in ("conv", "longprompt", "longoutput"):
        assert cases.make_trace(kind, 50, 2.0, 7) == cases.make_trace(kind, 50, 2.0, 7)
        assert cases.make_trace(kind, 50, 2.0, 7) != cases.make_trace(kind, 50, 2.0, 8)


def test_case_lengths_respect_their_bounds():
    cases = _load_cases_module()
    rng = np.random.default_rng(0)
    prompts, outputs = cases.workload_lengths("longprompt", 500, rng)
    assert prompts.min() >= 4000 and prompts.max() <= 8000 and outputs.max() <= 128
    prompts, outputs = cases.workload_lengths("longoutput", 500, rng)
    assert outputs.min() >= 800 and outputs.max() <= 1500 and prompts.max() <= 512
    prompts, outputs = cases.workload_lengths("conv", 4000, rng)
    # Lognormal(median m, sigma s) has mean m*exp(s^2/2): 850*e^0.18 = 1018, 130*e^0.405 = 195.
    assert 900 < prompts.mean() < 1100 and 170 < outputs.mean() < 220


def test_poisson_arrivals_match_rate():
    cases = _load_cases_module()
    arrivals = cases.poisson_arrivals(4.0, 20000, np.random.default_rng(1))
    assert arrivals[0] == 0.0 and np.all(np.diff(arrivals) >= 0)
    # Mean gap 1/rate: 19999 gaps of 0.25 s, relative error of the sum ~ 1/sqrt(n) < 1%.
    assert arrivals[-1] / 19999 == pytest.approx(0.25, rel=0.03)


def test_committed_records_are_valid():
    records = sorted((REPO / "records").glob("*.json"))
    for path in records:
        record = json.loads(path.read_text())
        if not record.get("preempted_requests"):
            validate_record(record)
            continue
        # as the engine writes a run that preempted: restarted timestamp lists, every token generated,
        # and the recorder's true first-token time before the restart
        validate_record(record, exact_lengths=False)
        evicted = {rid for _, rid in record["preemptions"]}
        assert len(evicted) == record["preempted_requests"]
        for entry in record["requests"]:
            assert entry["n_gen"] == entry["out"] and entry["first_token"] <= entry["token_times"][0]
            assert (entry["preemptions"] > 0) == (f"r{entry['i']}" in evicted)


def test_static_replay_bookkeeping_with_torch():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from batchsim.profiler.hf_static_run import StepClock

    clock = StepClock()
    clock.put(torch.zeros(2, 5))  # the prompt
    for _ in range(3):
        clock.put(torch.zeros(2))
    assert len(clock.stamps_s) == 3
    assert clock.stamps_s == sorted(clock.stamps_s)
    entries = [copy.deepcopy(e) for e in make_record()["requests"]]
    assert all(e["n_gen"] == len(e["token_times"]) for e in entries)
