"""The real traces in ../shared/traces read with the counts and statistics its README states.

Skipped cleanly when the shared folder is absent (set BATCHSIM_SHARED to point at it).
Percentiles are numpy's default (linear interpolation), which is how the README's were computed.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.traces.helpers import shared_file
from batchsim.traces.load import load_trace


def lengths(trace, column):
    values = trace.table[column].to_numpy()
    return round(values.mean()), *np.percentile(values, [50, 99]).round()


def test_azure_2023_conversation_trace():
    trace = load_trace(shared_file("azure2023/AzureLLMInferenceTrace_conv.csv"))
    table = trace.table
    assert trace.fmt == "azure" and len(table) == 19_366 and trace.notes == []
    assert (len(table) - 1) / table["arrival_s"].iloc[-1] == pytest.approx(5.53, abs=0.005)
    gaps = np.diff(table["arrival_s"].to_numpy())
    assert gaps.std() / gaps.mean() == pytest.approx(1.09, abs=0.005)
    assert lengths(trace, "prompt_tokens") == (1155, 1020, 4142)
    assert lengths(trace, "output_tokens") == (211, 129, 601)
    assert table["output_tokens"].max() == 1000


def test_sharegpt_8k_length_csv():
    trace = load_trace(shared_file("sharegpt/sharegpt_8k_filtered_stats_llama2_tokenizer.csv"))
    assert trace.fmt == "length-csv" and len(trace.table) == 30_731
    assert lengths(trace, "prompt_tokens") == (2340, 1730, 7434)
    assert lengths(trace, "output_tokens") == (439, 415, 998)


def test_arxiv_length_csv():
    path = "sharegpt/arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv"
    assert len(load_trace(shared_file(path)).table) == 28_257


def test_burstgpt_first_400():
    trace = load_trace(shared_file("burstgpt/BurstGPT_1_first400.csv"))
    assert trace.fmt == "burstgpt" and len(trace.table) == 400 - 17
    assert "dropped 17 BurstGPT rows with zero response tokens (failed requests)" in trace.notes


def test_mooncake_conversation_trace():
    trace = load_trace(shared_file("mooncake/conversation_trace.jsonl"))
    assert trace.fmt == "mooncake" and len(trace.table) == 12_031
    assert trace.prefix_block_tokens == 512
    assert lengths(trace, "prompt_tokens") == (12035, 6909, 85400)
    assert lengths(trace, "output_tokens") == (343, 350, 1119)
    blocks = trace.table["prefix_block_ids"].map(len).to_numpy()
    # every request names one block per started 512 tokens of its prompt
    assert np.array_equal(blocks, -(-trace.table["prompt_tokens"].to_numpy() // 512))
