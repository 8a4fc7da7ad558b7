"""Prefix identity from token ids and from synthetic shared-prefix workloads."""
import json

import numpy as np
import pandas as pd
import pytest

from batchsim.traces.errors import TraceError
from batchsim.traces.load import load_trace
from batchsim.traces.shared_prefix import add_shared_prefixes


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_token_ids_become_one_chain_hash_per_full_16_token_block(tmp_path):
    shared = list(range(100, 116))
    rows = [{"input_toks": 40, "output_toks": 5, "arrival_time_ns": 0,
             "input_tok_ids": shared + list(range(24))},
            {"input_toks": 20, "output_toks": 7, "arrival_time_ns": 1_500_000_000,
             "input_tok_ids": shared + [1, 2, 3, 4]}]
    trace = load_trace(write_jsonl(tmp_path / "w.jsonl", rows))
    table = trace.table
    assert trace.fmt == "token-ids" and trace.prefix_block_tokens == 16
    assert table["arrival_s"].tolist() == [0.0, 1.5]
    first, second = table["prefix_block_ids"]
    assert len(first) == 2 and len(second) == 1  # full blocks only
    assert first[0] == second[0]  # same first 16 tokens, same id


def test_a_bad_token_id_list_names_line_and_field(tmp_path):
    rows = [{"input_toks": 4, "output_toks": 5, "arrival_time_ns": 0, "input_tok_ids": [1, 2]},
            {"input_toks": 4, "output_toks": 5, "arrival_time_ns": 0, "input_tok_ids": ["a"]}]
    with pytest.raises(TraceError, match="line 2, field input_tok_ids: not a list of integers"):
        load_trace(write_jsonl(tmp_path / "w.jsonl", rows))


def table(prompts, outputs):
    return pd.DataFrame({"arrival_s": np.arange(len(prompts), dtype=float),
                         "prompt_tokens": prompts, "output_tokens": outputs,
                         "request_id": np.arange(len(prompts))})


def test_system_prompts_are_shared_by_users_with_the_same_prompt():
    out = add_shared_prefixes(table([10, 20, 30], [1, 1, 1]), np.random.default_rng(0),
                              system_prompts=2, system_prompt_tokens=32)
    # every request is its own user: users 0 and 2 share system prompt 0, user 1 has prompt 1
    assert out["prompt_tokens"].tolist() == [42, 52, 62]
    ids = out["prefix_block_ids"].tolist()
    assert ids[0] == ids[2] and len(ids[0]) == 2  # 32 system tokens: two 16-token blocks
    assert ids[1] != ids[0]


def test_a_conversation_turn_holds_every_earlier_turn_and_names_its_answer():
    out = add_shared_prefixes(table([10, 20], [6, 3]), np.random.default_rng(0), users=1,
                              multi_turn=True)
    # turn 2 = turn 1's 10 prompt + 6 output tokens, then its own 20
    assert out["prompt_tokens"].tolist() == [10, 36]
    first, second = out["prefix_block_ids"].tolist()
    assert len(first) == 1 and len(second) == 3  # 16 and 39 tokens named, prompt + output
    assert second[0] == first[0]
