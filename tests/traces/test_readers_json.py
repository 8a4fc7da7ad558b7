"""Mooncake JSONL, ShareGPT JSON and vLLM result readers on small hand-written fixtures."""
from __future__ import annotations

import json

import pytest

from tests.traces.helpers import write
from batchsim.traces.errors import TraceError
from batchsim.traces.load import load_trace


def mooncake_lines(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


MOONCAKE = mooncake_lines(
    {"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [0, 1]},
    {"timestamp": 0, "input_length": 700, "output_length": 6, "hash_ids": [0, 2]},
    {"timestamp": 3000, "input_length": 100, "output_length": 7, "hash_ids": [3]},
)


def test_mooncake_keeps_hash_ids_and_converts_ms(tmp_path):
    trace = load_trace(write(tmp_path, "m.jsonl", MOONCAKE))
    assert trace.fmt == "mooncake" and trace.prefix_block_tokens == 512
    assert trace.table["arrival_s"].tolist() == [0.0, 0.0, 3.0]
    assert trace.table["prompt_tokens"].tolist() == [600, 700, 100]
    assert trace.table["prefix_block_ids"].tolist() == [(0, 1), (0, 2), (3,)]


def test_mooncake_spread_ties_fills_the_bucket_evenly(tmp_path):
    trace = load_trace(write(tmp_path, "m.jsonl", MOONCAKE), spread_ties=True)
    # two requests share t=0 and the next timestamp is 3 s later: 0 and 1.5 s
    assert trace.table["arrival_s"].tolist() == [0.0, 1.5, 3.0]
    assert "spread 2 requests sharing 1 timestamps" in trace.notes[-1]


@pytest.mark.parametrize("line, message", [
    ('{"timestamp": 5, "input_length": "x", "output_length": 1, "hash_ids": []}',
     "m.jsonl line 3, field input_length: 'x' is not an integer"),
    ('{"timestamp": 5, "input_length": 4, "output_length": 0, "hash_ids": []}',
     "m.jsonl line 3, field output_length: 0 is not a positive token count"),
    ('{"timestamp": 5, "input_length": 4, "output_length": 2, "hash_ids": [1, "a"]}',
     "m.jsonl line 3, field hash_ids: not a list of integers"),
    ('{"timestamp": 5, "input_length": 4, "output_length": 2',
     "m.jsonl line 3: not valid JSON"),
    ('{"input_length": 4, "output_length": 2, "hash_ids": []}',
     "m.jsonl line 3, field timestamp: missing value"),
])
def test_mooncake_bad_line_is_named(tmp_path, line, message):
    text = MOONCAKE.splitlines()[0] + "\n\n" + line + "\n"
    with pytest.raises(TraceError) as error:
        load_trace(write(tmp_path, "m.jsonl", text))
    assert str(error.value).startswith(message)


def test_mooncake_skip_bad_counts(tmp_path):
    text = MOONCAKE + "garbage\n"
    trace = load_trace(write(tmp_path, "m.jsonl", text), skip_bad=True)
    assert len(trace.table) == 3
    assert trace.notes[0].startswith("skipped 1 malformed row (first: m.jsonl line 4: not valid JSON")


SHAREGPT = [
    {"id": "a", "conversations": [{"from": "human", "value": "x" * 40},
                                  {"from": "gpt", "value": "y" * 9}]},
    {"id": "b", "conversations": [{"from": "gpt", "value": "hello"}]},           # no pair
    {"id": "c", "conversations": [{"from": "system", "value": "s"},
                                  {"from": "human", "value": "abc"},
                                  {"from": "human", "value": "again"},
                                  {"from": "gpt", "value": "z" * 4000}]},
    {"id": "d", "conversations": [{"from": "human", "value": ""},
                                  {"from": "gpt", "value": "y"}]},                # empty prompt
    {"id": "e", "conversations": [{"from": "human", "value": "q" * 4400},
                                  {"from": "gpt", "value": "r" * 40}]},
]


def test_sharegpt_first_human_then_next_gpt_with_char_estimate(tmp_path):
    trace = load_trace(write(tmp_path, "s.json", json.dumps(SHAREGPT)))
    assert trace.fmt == "sharegpt"
    # ceil(chars / 4): 40 -> 10, 9 -> 3, 3 -> 1, 4000 -> 1000, 4400 -> 1100, 40 -> 10
    assert trace.table["request_id"].tolist() == ["a", "c", "e"]
    assert trace.table["prompt_tokens"].tolist() == [10, 1, 1100]
    assert trace.table["output_tokens"].tolist() == [3, 1000, 10]
    assert "token counts from the estimate ceil(characters / 4) (no --tokenizer given)" in trace.notes
    assert "dropped 1 conversations without a human turn followed by a reply" in trace.notes
    assert "dropped 1 conversations with an empty prompt or reply" in trace.notes


def test_sharegpt_vllm_filters(tmp_path):
    records = SHAREGPT + [
        {"id": "f", "conversations": [{"from": "human", "value": "p" * 100},
                                      {"from": "gpt", "value": "o" * 40}]},      # 25/10: kept
        {"id": "g", "conversations": [{"from": "human", "value": "p" * 4000},
                                      {"from": "gpt", "value": "o" * 4400}]},    # 1000+1100
    ]
    trace = load_trace(write(tmp_path, "s.json", json.dumps(records)), sharegpt_filters=True)
    # a: output 3 < 4 and c: prompt 1 < 4; e: prompt 1100 > 1024; g: 2100 > 2048 in total
    assert "vLLM filters dropped 2 pairs under 4 tokens, 1 prompts over 1024 tokens and 1 pairs " \
           "over 2048 tokens" in trace.notes
    assert trace.table["request_id"].tolist() == ["f"]


def test_sharegpt_malformed_record_is_named(tmp_path):
    records = SHAREGPT[:1] + [{"id": "z", "conversations": "oops"}]
    with pytest.raises(TraceError, match="s.json record 2, field conversations: not a list"):
        load_trace(write(tmp_path, "s.json", json.dumps(records)))
    with pytest.raises(TraceError, match=r"s.json line 1, column \d+: not valid JSON"):
        load_trace(write(tmp_path, "s.json", "[{"))


def test_vllm_result_drops_failed_requests(tmp_path):
    result = {"backend": "vllm", "input_lens": [10, 20, 30], "output_lens": [5, 0, 7],
              "ttfts": [0.1, 0.0, 0.2]}
    trace = load_trace(write(tmp_path, "r.json", json.dumps(result)))
    assert trace.fmt == "vllm-result"
    assert trace.table["prompt_tokens"].tolist() == [10, 30]
    assert trace.table["output_tokens"].tolist() == [5, 7]
    assert "dropped 1 failed requests (output length 0)" in trace.notes


def test_vllm_result_without_lengths_is_explained(tmp_path):
    with pytest.raises(TraceError, match="--save-detailed"):
        load_trace(write(tmp_path, "r.json", json.dumps({"backend": "vllm"})), fmt="vllm-result")
