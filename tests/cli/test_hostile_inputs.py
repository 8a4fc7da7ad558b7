"""Hostile input, table-driven: each case is (files, command, expected message, exit code).

Every refused input gives exactly one line on stderr, ``batchsim: error: ...`` under 320
characters, naming the file and the line or key, and exit code 2: never a traceback.
"""
import gzip
import os
from pathlib import Path

import pytest

from batchsim.cli.main import main

CANON = "arrival_s,prompt_tokens,output_tokens\n"
AZURE = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
BURST = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
RECORD_OK = ('{"case": "c", "engine": "hf_static", "model_config": {"hidden_size": 8, '
             '"intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1, '
             '"num_key_value_heads": 1, "vocab_size": 8}, "engine_config": {"batch_size": 1}, '
             '"gpu": "NVIDIA H200", "torch": "2", "transformers": "4", "requests": [{"i": 0, '
             '"arrival": 0.0, "submit": 0.0, "in": IN, "out": 1, "n_gen": 1, "token_times": [0.1]}]}')
REPLAY = ["replay", "--profile", "roofline", "--limit", "20"]
DEEP = 100_000

CASES = [
    # (id, files {name: text or bytes}, argv (with {d} the folder), expected fragment)
    ("ragged first row", {"t.csv": CANON + "0,10,10,99\n1,2,3\n"},
     ["trace", "stats", "{d}/t.csv"], "t.csv line 2: expected 3 fields, saw 4"),
    ("short row", {"t.csv": CANON + "0,10,10\n1,2\n"},
     ["trace", "stats", "{d}/t.csv"], "t.csv line 3: expected 3 fields, saw 2"),
    ("duplicate column", {"t.csv": "arrival_s,prompt_tokens,output_tokens,prompt_tokens\n0,1,1,1\n"},
     ["trace", "stats", "{d}/t.csv"], "t.csv line 1: column 'prompt_tokens' appears twice"),
    ("burstgpt 4 of 6 fields", {"b.csv": BURST + "1,ChatGPT,10,20,30,Conversation log\n2,ChatGPT,10,20\n"},
     ["trace", "stats", "{d}/b.csv"], "b.csv line 3: expected 6 fields, saw 4"),
    ("huge field is cut", {"t.csv": CANON + "0," + "9" * 1_000_000 + "x,5\n"},
     ["trace", "stats", "{d}/t.csv"], "t.csv line 2, column prompt_tokens: '999"),
    ("2**63 tokens", {"t.csv": CANON + "0,9223372036854775808,5\n"},
     ["trace", "stats", "{d}/t.csv"], "column prompt_tokens: 9223372036854775808 is out of range"),
    ("zero tokens", {"t.csv": CANON + "0,0,5\n"},
     ["trace", "stats", "{d}/t.csv"], "t.csv line 2, column prompt_tokens: 0 is not a positive"),
    ("negative arrival", {"t.csv": CANON + "-1,3,5\n"},
     ["trace", "stats", "{d}/t.csv"], "t.csv line 2, column arrival_s: -1.0 is a negative arrival"),
    ("NaN arrival", {"t.csv": CANON + "nan,3,5\n"},
     ["trace", "stats", "{d}/t.csv"], "t.csv line 2, column arrival_s: missing value"),
    ("arrival at 1e10 s", {"t.csv": CANON + "0,3,5\n1e10,3,5\n"},
     ["trace", "stats", "{d}/t.csv"], "over the limit arrival_span_s"),
    ("burstgpt timestamps near 1e30 s", {"b.csv": BURST + "1e30,ChatGPT,10,20,30,x\n1.0000000000001e30,ChatGPT,10,20,30,x\n"},
     ["trace", "stats", "{d}/b.csv"], "b.csv line 2, column Timestamp: 1e+30 s is out of range"),
    ("duplicate request ids", {"t.csv": CANON.strip() + ",request_id\n0,3,5,a\n1,3,5,a\n"},
     ["trace", "stats", "{d}/t.csv"], "t.csv line 3, column request_id: 'a' repeats"),
    ("not UTF-8", {"t.csv": CANON.encode() + b"0,3,\xff\n"},
     ["trace", "stats", "{d}/t.csv"], "t.csv: not UTF-8 text"),
    ("azure year 9999", {"a.csv": AZURE + "2023-11-16 18:15:46+00:00,1,1\n9999-12-31 00:00:00+00:00,1,1\n"},
     ["trace", "stats", "{d}/a.csv"], "a.csv line 3, column TIMESTAMP: '9999-12-31 00:00:00+00:00' is out of range"),
    ("empty file", {"t.csv": ""}, ["trace", "stats", "{d}/t.csv"], "t.csv: empty file"),
    ("gzip file", {"t.csv": gzip.compress((CANON + "0,1,1\n").encode())},
     ["trace", "stats", "{d}/t.csv"], "t.csv: gzip-compressed"),
    ("binary junk", {"t.bin": bytes(range(256)) * 4}, ["trace", "stats", "{d}/t.bin"], "binary data"),
    ("too many columns", {"t.csv": ",".join(f"c{i}" for i in range(5000)) + "\n"},
     ["trace", "stats", "{d}/t.csv"], "over the limit columns=1,000"),
    ("directory as trace", {"dir/x": ""}, ["trace", "stats", "{d}/dir"], "dir: is a directory"),
    ("missing trace", {}, ["trace", "stats", "{d}/none.csv"], "none.csv: no such file"),
    ("deep ShareGPT JSON", {"s.json": "[" * DEEP + "]" * DEEP},
     ["trace", "stats", "{d}/s.json"], "s.json: JSON nested too deeply"),
    ("deep vLLM result JSON", {"v.json": '{"input_lens": ' + "[" * DEEP + "]" * DEEP + "}"},
     ["trace", "stats", "{d}/v.json"], "v.json: JSON nested too deeply"),
    ("deep Mooncake line", {"m.jsonl": '{"input_length": 1, "x": ' + "[" * DEEP + "]" * DEEP + "}\n"},
     ["trace", "stats", "{d}/m.jsonl"], "m.jsonl line 1: JSON nested too deeply"),
    ("record with 2**63 tokens", {"r.json": RECORD_OK.replace("IN", str(2**63))},
     ["validate", "{d}/r.json"], "requests[0].in: must be an integer in 1.."),
    ("record with NaN", {"r.json": RECORD_OK.replace("IN", "NaN")},
     ["validate", "{d}/r.json"], "requests[0].in: must be an integer"),
    ("deep scenario YAML", {"s.yaml": "a: " + "[" * DEEP + "]" * DEEP + "\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml: YAML nested too deeply"),
    ("scenario max_num_seqs: true", {"s.yaml": "max_num_seqs: true\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 1: max_num_seqs: expected an integer, got True"),
    ("scenario max_num_seqs: 1.5", {"s.yaml": "policy: continuous\nmax_num_seqs: 1.5\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 2: max_num_seqs: expected an integer, got 1.5"),
    ("scenario max_num_seqs: .nan", {"s.yaml": "max_num_seqs: .nan\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 1: max_num_seqs: expected an integer"),
    ("scenario seed: abc", {"s.yaml": "seed: abc\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 1: seed: expected an integer, got 'abc'"),
    ("scenario slo: 5", {"s.yaml": "slo: 5\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 1: slo: expected text, got 5"),
    ("scenario policy list", {"s.yaml": "policy: [static]\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 1: policy: expected text"),
    ("scenario model mapping", {"s.yaml": "model: {a: 1}\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 1: model: expected text"),
    ("scenario trace: 5", {"s.yaml": "trace: 5\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 1: trace: expected text, got 5"),
    ("scenario profile list", {"s.yaml": "profile: [a]\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 1: profile: expected text"),
    ("scenario unknown section key", {"s.yaml": "policy:\n  name: static\n  max_seq: 3\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 3: policy.max_seq: unknown key"),
    ("scenario static with max_num_seqs", {"s.yaml": "policy: static\nmax_num_seqs: 8\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "max_num_seqs: does not apply to the static policy"),
    ("scenario slo without unit", {"s.yaml": "slo:\n  ttft_p99: 2\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 2: slo.ttft_p99: expected a duration with a unit"),
    ("scenario given twice", {"s.yaml": "policy: static\nserving:\n  name: chunked\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 3: serving.name: given twice"),
    ("scenario key twice", {"s.yaml": "max_num_seqs: 8\nseed: 1\nmax_num_seqs: 16\n"},
     REPLAY + ["--config", "{d}/s.yaml"], "s.yaml line 3: max_num_seqs: given twice (also line 1)"),
    ("grid key twice", {"g.yaml": "policy: [static]\npolicy: [chunked]\n"},
     ["sweep", "--grid", "{d}/g.yaml", "--out", "{d}/sw"], "g.yaml line 2: policy: given twice"),
    ("static with --max-num-seqs", {}, REPLAY + ["--policy", "static", "--max-num-seqs", "8"],
     "max_num_seqs: does not apply to the static policy"),
    ("max_wait_s inf", {}, REPLAY + ["--policy", "static", "--max-wait-s", "inf"],
     "argument --max-wait-s: 'inf' is not a finite number"),
    ("max_model_len above context", {}, REPLAY + ["--max-model-len", "1000000"],
     "max_model_len: 1,000,000 is above"),
    ("slo bare number", {}, REPLAY + ["--slo", "ttft=2"], "'2' needs a unit"),
    ("slo repeated", {}, REPLAY + ["--slo", "ttft=2s,ttft_p99=3s"], "repeats ttft_p99"),
    ("slo NaN", {}, REPLAY + ["--slo", "ttft=nans"], "is not a duration"),
    ("goodput in seconds", {}, REPLAY + ["--goodput", "ttft:2s"], "milliseconds must be"),
    ("flag aliases both given", {}, ["plan", "--slo", "ttft=2s", "--gpus-per-replica", "2", "--tp", "4"],
     "--tp and --gpus-per-replica set the same value"),
    ("flag given twice", {}, REPLAY + ["--batch-size", "2", "--batch-size", "4"], "--batch-size given twice"),
    ("plan window 1e-9 s", {}, ["plan", "--limit", "50", "--slo", "ttft=2s", "--window-s", "1e-9"],
     "over the limit windows"),
    ("huge sweep grid", {}, ["sweep", "--out", "{d}/sw"] + [
        f"--set=max_num_seqs={','.join(str(v) for v in range(1, 101))}"] + [
        f"--set={name}={','.join(str(v) for v in range(16, 116))}"
        for name in ("block_size", "max_num_batched_tokens", "kv_blocks", "max_model_len")],
     "sweep grid points: 1e+10 is over the limit grid_points"),
    ("grid value 10**23", {"g.yaml": "max_num_seqs: [8, 100000000000000000000000]\n"},
     ["sweep", "--grid", "{d}/g.yaml", "--out", "{d}/sw"], "g.yaml line 1: sweep setting max_num_seqs: must be at most"),
    ("synth 1e10 requests", {}, ["trace", "synth", "--rate", "5", "--num-requests", "10000000000",
                                 "--out", "{d}/s.csv"], "over the limit requests"),
    ("synth infinite duration", {}, ["trace", "synth", "--rate", "5", "--duration", "inf",
                                     "--out", "{d}/s.csv"], "'inf' is not a finite number"),
    ("plot negative requests", {}, ["plot", "timeline", "--requests", "-5", "--out", "{d}/p"],
     "argument --requests: -5 must be at least 1"),
    ("--out is a file", {"f": "x"}, REPLAY + ["--out", "{d}/f"], "f: exists and is not a directory"),
    ("--out empty", {}, REPLAY + ["--out", ""], "--out: empty path"),
    ("--out foreign directory", {"o/mine.txt": "keep"}, REPLAY + ["--out", "{d}/o"],
     "holds files batchsim did not write"),
    ("convert onto its input", {"t.csv": CANON + "0,1,1\n"},
     ["trace", "convert", "{d}/t.csv", "--out", "{d}/t.csv"], "--out is the input file"),
    ("profile kv_bytes_per_token 0", {"p/profile.yaml": "PROFILE_KV0"},
     ["replay", "--limit", "20", "--profile", "{d}/p"], "memory.kv_bytes_per_token: expected an integer >= 1, got 0"),
    ("rate scale stretching arrivals", {"t.csv": CANON + "0,3,5\n1,3,5\n"},
     ["trace", "stats", "{d}/t.csv", "--rate-scale", "1e-300"], "after --rate-scale/--window: last arrival"),
    ("block bigger than memory", {}, REPLAY + ["--block-size", "1048576"],
     "block_size: one block of 1,048,576 tokens needs"),
    ("too many replicas", {}, REPLAY + ["--replicas", "1000000"], "replicas: must be at most 10000"),
    ("broken summary.json in a run folder", {"run/summary.json": '{"a": 1', "run/requests.csv": "x\n",
                                             "run/steps.csv": "x\n"},
     ["plot", "cdf", "{d}/run", "--out", "{d}/p"], "summary.json line 1, column 8: not valid JSON"),
    ("synth rate curve of 1e300 req/s", {"r.csv": "start_s,rate_per_s\n0,1e300\n"},
     ["trace", "synth", "--arrival", "rate-csv", "--rate-csv", "{d}/r.csv", "--duration", "10",
      "--out", "{d}/s.csv"], "r.csv: expected requests: 1e+301 is over the limit requests"),
    ("synth 9e9-token prompts", {}, ["trace", "synth", "--rate", "1", "--num-requests", "3",
                                     "--prompt-tokens", "9000000000", "--out", "{d}/s.csv"],
     "prompt_tokens must be in 1..2147483647"),
    ("a million workers", {}, ["sweep", "--set", "max_num_seqs=1,2", "--workers", "1000000",
                               "--out", "{d}/sw"], "--workers: 1000000 is not in 1.."),
    ("limit raise unknown", {}, REPLAY + ["--limit-raise", "speed=2"], "expected NAME=VALUE"),
]


def _profile_yaml(kv_bytes: int) -> str:
    root = Path(__file__).resolve().parents[2] / "simulator/data/profiles/h200-llama-3-8b-cuda-graph"
    text = (root / "profile.yaml").read_text()
    return text.replace("kv_bytes_per_token: 131072", f"kv_bytes_per_token: {kv_bytes}")


def _write(folder: Path, files: dict) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == "PROFILE_KV0":
            content = _profile_yaml(0)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def run_cli(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("files, argv, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_gets_one_line_naming_it_and_exit_2(capsys, tmp_path, files, argv, expected):
    _write(tmp_path, files)
    code, _, err = run_cli(capsys, [a.replace("{d}", str(tmp_path)) for a in argv])
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("batchsim: error: "), err[:500]
    assert len(lines[0]) < 320 and "Traceback" not in err
    assert expected in lines[0]


def test_profile_yaml_fixture_has_the_kv_line():
    assert "kv_bytes_per_token: 0" in _profile_yaml(0)


@pytest.mark.parametrize("command", [["trace", "stats"], ["validate"], ["replay", "--config"],
                                     ["sweep", "--out", "sw", "--grid"], ["replay", "--trace"]])
def test_symlink_to_dev_zero_is_refused_without_reading(capsys, tmp_path, command):
    link = tmp_path / "zero.csv"
    os.symlink("/dev/zero", link)
    code, _, err = run_cli(capsys, [*command, str(link)])
    assert code == 2 and "zero.csv: not a regular file" in err


@pytest.mark.parametrize("text, count", [
    (CANON + "0,1,1\n1,2\n2,3,3\n", 2),  # a short row is dropped, not kept with a blank
    (CANON + "0,1,1\n1,2,2,9\n2,3,3\n", 2),  # and so is a long one
])
def test_skip_bad_drops_rows_with_the_wrong_field_count(capsys, tmp_path, text, count):
    (tmp_path / "t.csv").write_text(text)
    code, out, err = run_cli(capsys, ["trace", "stats", "--skip-bad", str(tmp_path / "t.csv")])
    assert code == 0 and f"requests            {count}" in out
    assert "line 3" in err and "wrong number of fields" in err


def test_ragged_row_never_shifts_columns_under_skip_bad(tmp_path):
    from batchsim.traces.load import load_trace
    (tmp_path / "t.csv").write_text(CANON + "0,10,10,99\n1,2,3\n")
    table = load_trace(tmp_path / "t.csv", skip_bad=True).table
    assert table[["arrival_s", "prompt_tokens", "output_tokens"]].values.tolist() == [[1, 2, 3]]


def test_byte_order_mark_and_long_mooncake_first_line_are_read(capsys, tmp_path):
    (tmp_path / "bom.csv").write_text("\ufeff" + CANON + "0,1,1\n")
    ids = ", ".join(str(i) for i in range(20_000))  # first line well past 64 KB
    line = '{"timestamp": 0, "input_length": 10, "output_length": 5, "hash_ids": [' + ids + "]}\n"
    (tmp_path / "m.jsonl").write_text(line)
    for name, fmt in (("bom.csv", "(canonical)"), ("m.jsonl", "(mooncake)")):
        code, out, err = run_cli(capsys, ["trace", "stats", str(tmp_path / name)])
        assert code == 0 and fmt in out, err


def test_unexpected_exception_still_gives_one_line_naming_the_input(capsys, tmp_path, monkeypatch):
    import batchsim.traces.load as load  # cli_options imports load_trace when it reads a file

    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'x'")
    monkeypatch.setattr(load, "load_trace", broken)
    (tmp_path / "t.csv").write_text(CANON + "0,1,1\n")
    code, _, err = run_cli(capsys, ["trace", "stats", str(tmp_path / "t.csv")])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{tmp_path / 't.csv'}: unexpected AttributeError" in err


def test_limit_raise_lifts_a_limit(capsys, tmp_path):
    (tmp_path / "t.csv").write_text(CANON + "0,3,5\n2e8,3,5\n")
    code, _, err = run_cli(capsys, ["trace", "stats", str(tmp_path / "t.csv")])
    assert code == 2 and "arrival_span_s" in err
    code, out, _ = run_cli(capsys, ["trace", "stats", "--limit-raise", "arrival_span_s=1e9",
                                    str(tmp_path / "t.csv")])
    assert code == 0 and "requests            2" in out


def test_profile_step_with_infinite_wall_time_is_refused_by_line(capsys, tmp_path):
    root = Path(__file__).resolve().parents[2] / "simulator/data/profiles/h200-llama-3-8b-cuda-graph"
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "profile.yaml").write_text((root / "profile.yaml").read_text())
    lines = (root / "steps.csv").read_text().splitlines()
    fields = lines[1].split(",")
    fields[5] = "inf"  # wall_s
    (folder / "steps.csv").write_text("\n".join([lines[0], ",".join(fields), *lines[2:]]) + "\n")
    code, _, err = run_cli(capsys, ["replay", "--limit", "20", "--profile", str(folder)])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "steps.csv, line 2: an ok step's times must be finite" in err


@pytest.mark.parametrize("columns, expected", [
    ({"arrival_s": ["a", "1"]}, "t.parquet row 1, column arrival_s: 'a' is not a finite number"),
    ({"prefix_block_ids": [["x"], ["y"]]}, "t.parquet row 1, column prefix_block_ids:"),
    ({"prompt_tokens": [2**63, 2]}, "t.parquet row 1, column prompt_tokens: 9223372036854775808 is out"),
])
def test_hostile_parquet_columns_are_named_by_row(capsys, tmp_path, columns, expected):
    import numpy as np
    import pandas as pd

    frame = {"arrival_s": [0.0, 1.0], "prompt_tokens": [1, 2], "output_tokens": [1, 2], **columns}
    if "prompt_tokens" in columns:
        frame["prompt_tokens"] = np.array(columns["prompt_tokens"], dtype=np.uint64)
    pd.DataFrame(frame).to_parquet(tmp_path / "t.parquet")
    code, _, err = run_cli(capsys, ["trace", "stats", str(tmp_path / "t.parquet")])
    assert code == 2 and len(err.strip().splitlines()) == 1 and expected in err
