"""Azure, BurstGPT, canonical and length-CSV readers on small hand-written fixtures."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.traces.helpers import write
from batchsim.traces.errors import TraceError
from batchsim.traces.load import load_trace

AZURE_2023 = """TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:15:46.6805900,374,44
2023-11-16 18:15:50.9951690,396,109
2023-11-16 18:15:51.0000000,10,1
"""


def test_azure_2023_seconds_since_first_row_keep_seven_digits(tmp_path):
    trace = load_trace(write(tmp_path, "az.csv", AZURE_2023))
    assert trace.fmt == "azure"
    table = trace.table
    # 50.9951690 - 46.6805900 = 4.3145790 s exactly; 51.0 - 46.68059 = 4.31941 s
    assert table["arrival_s"].tolist() == pytest.approx([0.0, 4.314579, 4.31941], abs=1e-9)
    assert table["prompt_tokens"].tolist() == [374, 396, 10]
    assert table["output_tokens"].tolist() == [44, 109, 1]
    assert table["request_id"].tolist() == [0, 1, 2]
    assert table["arrival_s"].dtype == np.float64 and table["prompt_tokens"].dtype == np.int64
    assert trace.notes == []


def test_azure_2024_utc_mixed_precision(tmp_path):
    text = ("TIMESTAMP,ContextTokens,GeneratedTokens\n"
            "2024-05-10 00:00:00+00:00,100,5\n"
            "2024-05-10 00:00:00.016+00:00,200,6\n"
            "2024-05-10 00:00:01.5+00:00,300,7\n")
    table = load_trace(write(tmp_path, "az24.csv", text)).table
    assert table["arrival_s"].tolist() == pytest.approx([0.0, 0.016, 1.5], abs=1e-9)


def test_azure_out_of_order_rows_are_sorted_with_a_note(tmp_path):
    text = ("TIMESTAMP,ContextTokens,GeneratedTokens\n"
            "2023-11-16 18:15:50.0,2,2\n"
            "2023-11-16 18:15:48.0,1,1\n"
            "2023-11-16 18:15:52.0,3,3\n")
    trace = load_trace(write(tmp_path, "az.csv", text))
    assert trace.table["prompt_tokens"].tolist() == [1, 2, 3]
    assert trace.table["arrival_s"].tolist() == [0.0, 2.0, 4.0]
    # ids follow the file's order, so the earlier-arriving second row keeps id 1
    assert trace.table["request_id"].tolist() == [1, 0, 2]
    assert any("sorted by arrival: 1 row" in note for note in trace.notes)


@pytest.mark.parametrize("row, message", [
    ("2023-11-16 18:15:47.0,abc,5", "bad.csv line 3, column ContextTokens: 'abc' is not an integer"),
    ("2023-11-16 18:15:47.0,5,0", "bad.csv line 3, column GeneratedTokens: 0 is not a positive"),
    ("2023-11-16 18:15:47.0,-4,3", "bad.csv line 3, column ContextTokens: -4 is not a positive"),
    ("2023-11-16 18:15:47.0,2.5,3", "bad.csv line 3, column ContextTokens: 2.5 is not an integer"),
    ("not a time,5,3", "bad.csv line 3, column TIMESTAMP: 'not a time' is not a date-time"),
    ("2023-11-16 18:15:47.0,,3", "bad.csv line 3, column ContextTokens: missing value"),
    ("2023-11-16 18:15:47.0,5,3,9", "bad.csv line 3: expected 3 fields, saw 4"),
])
def test_azure_bad_row_names_file_line_and_column(tmp_path, row, message):
    text = ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0,1,1\n"
            f"{row}\n2023-11-16 18:15:48.0,1,1\n")
    with pytest.raises(TraceError) as error:
        load_trace(write(tmp_path, "bad.csv", text))
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_skip_bad_counts_skipped_rows_and_keeps_line_numbers(tmp_path):
    text = ("TIMESTAMP,ContextTokens,GeneratedTokens\n"
            "2023-11-16 18:15:46.0,1,1\n"
            "2023-11-16 18:15:47.0,5,3,9\n"       # line 3: ragged
            "\n"                                   # line 4: blank
            "2023-11-16 18:15:48.0,x,1\n"          # line 5: bad integer
            "2023-11-16 18:15:49.0,4,0\n"          # line 6: zero tokens
            "2023-11-16 18:15:50.0,7,7\n")
    trace = load_trace(write(tmp_path, "bad.csv", text), skip_bad=True)
    assert trace.table["prompt_tokens"].tolist() == [1, 7]
    assert trace.table["arrival_s"].tolist() == [0.0, 4.0]
    assert "skipped 1 malformed row with the wrong number of fields (first: bad.csv line 3)" \
        in trace.notes
    assert "skipped 1 blank row" in trace.notes
    assert ("skipped 2 malformed rows (first: bad.csv line 5, column ContextTokens: "
            "'x' is not an integer)") in trace.notes


def test_missing_column_is_named(tmp_path):
    path = write(tmp_path, "az.csv", "TIMESTAMP,ContextTokens,Generated\n2023-11-16 18:15:46,1,1\n")
    with pytest.raises(TraceError, match="missing column"):
        load_trace(path, fmt="azure")


BURST = """Timestamp,Session ID,Model,Request tokens,Response tokens,Total tokens,Elapsed time,Log Type
5,s1,ChatGPT,472,18,490,1.0,Conversation log
45,s2,GPT-4,1087,230,1317,2.0,Conversation log
50,s3,ChatGPT,300,0,300,0.0,Conversation log
118,s4,GPT-4,0,0,0,0.0,API log
185,s5,ChatGPT,1360,647,2007,3.0,Conversation log
"""


def test_burstgpt_by_column_name_drops_failed_rows_with_count(tmp_path):
    trace = load_trace(write(tmp_path, "burst.csv", BURST))
    assert trace.fmt == "burstgpt"
    assert trace.table["prompt_tokens"].tolist() == [472, 1087, 1360]
    assert trace.table["output_tokens"].tolist() == [18, 230, 647]
    assert trace.table["arrival_s"].tolist() == [0.0, 40.0, 180.0]
    assert "dropped 2 BurstGPT rows with zero response tokens (failed requests)" in trace.notes


def test_burstgpt_model_filter(tmp_path):
    trace = load_trace(write(tmp_path, "burst.csv", BURST), model="GPT-4")
    assert trace.table["prompt_tokens"].tolist() == [1087]
    assert "kept only Model 'GPT-4': dropped 3 rows of other models" in trace.notes
    with pytest.raises(TraceError, match="models present: ChatGPT, GPT-4"):
        load_trace(write(tmp_path, "burst.csv", BURST), model="Claude")


def test_burstgpt_zero_request_tokens_with_a_response_is_rejected(tmp_path):
    text = BURST.replace("185,s5,ChatGPT,1360", "185,s5,ChatGPT,0")
    with pytest.raises(TraceError, match=r"burst.csv line 6, column Request tokens: 0 is not"):
        load_trace(write(tmp_path, "burst.csv", text))


def test_canonical_csv_with_string_ids_and_negative_arrival(tmp_path):
    text = "arrival_s,prompt_tokens,output_tokens,request_id\n0.5,10,2,a\n1.25,3,4,b\n"
    trace = load_trace(write(tmp_path, "c.csv", text))
    assert trace.fmt == "canonical"
    assert trace.table["arrival_s"].tolist() == [0.5, 1.25]  # canonical arrivals are kept as is
    assert trace.table["request_id"].tolist() == ["a", "b"]
    with pytest.raises(TraceError, match=r"c.csv line 2, column arrival_s: -1.0 is a negative"):
        load_trace(write(tmp_path, "c.csv", "arrival_s,prompt_tokens,output_tokens\n-1,1,1\n"))


def test_length_csv_arrives_all_at_once(tmp_path):
    text = "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n74,918,992,0.08\n5,2,7,2.5\n"
    trace = load_trace(write(tmp_path, "stats.csv", text))
    assert trace.fmt == "length-csv"
    assert trace.table["prompt_tokens"].tolist() == [74, 5]
    assert trace.table["arrival_s"].tolist() == [0.0, 0.0]
    assert any("no arrival times" in note for note in trace.notes)


def test_unknown_format_lists_supported(tmp_path):
    with pytest.raises(TraceError, match="supported: canonical, azure, burstgpt"):
        load_trace(write(tmp_path, "x.csv", "a,b\n1,2\n"))
    with pytest.raises(TraceError, match="unknown trace format 'xml'"):
        load_trace(write(tmp_path, "x.csv", "a,b\n1,2\n"), fmt="xml")


def test_header_only_file_is_an_empty_trace(tmp_path):
    # an empty trace replays to an empty report rather than failing
    table = load_trace(write(tmp_path, "az.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n")).table
    assert table.empty
    assert list(table.columns[:3]) == ["arrival_s", "prompt_tokens", "output_tokens"]
