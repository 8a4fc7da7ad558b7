"""Canonical write/read round trips (CSV and Parquet) and the table invariants."""
from __future__ import annotations

import pandas as pd
import pytest

from batchsim.traces.canonical import validate_table, write_canonical
from batchsim.traces.errors import TraceError
from batchsim.traces.load import load_trace


def make_table(with_prefix=False) -> pd.DataFrame:
    table = pd.DataFrame({
        "arrival_s": [0.0, 0.1 + 0.2, 1.0 / 3.0, 7.25],
        "prompt_tokens": [1, 20, 300, 4000],
        "output_tokens": [5, 1, 60, 700],
        "request_id": [10, 11, 12, 13],
    })
    if with_prefix:
        table["prefix_block_ids"] = pd.Series([(0,), (0, 1), (), (2, 3, 4)], dtype=object)
    return table


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("with_prefix", [False, True])
def test_round_trip_is_exact(tmp_path, suffix, with_prefix):
    table = make_table(with_prefix)
    path = tmp_path / f"t{suffix}"
    write_canonical(table, path, prefix_block_tokens=512 if with_prefix else None)
    trace = load_trace(path)
    assert trace.fmt == "canonical" and trace.notes == []
    pd.testing.assert_frame_equal(trace.table, table)  # floats bit for bit, ids as written
    assert trace.prefix_block_tokens == (512 if with_prefix else None)


def test_string_ids_round_trip(tmp_path):
    table = make_table()
    table["request_id"] = ["a", "b", "c", "d"]
    write_canonical(table, tmp_path / "t.csv")
    assert load_trace(tmp_path / "t.csv").table["request_id"].tolist() == ["a", "b", "c", "d"]


def test_write_refuses_unsorted_or_bad_tables(tmp_path):
    table = make_table().iloc[::-1]
    with pytest.raises(TraceError, match="sorted"):
        write_canonical(table, tmp_path / "t.csv")
    with pytest.raises(TraceError, match=".csv or .parquet"):
        write_canonical(make_table(), tmp_path / "t.txt")
    bad = make_table()
    bad.loc[1, "output_tokens"] = 0
    with pytest.raises(TraceError, match="output_tokens must be in 1.."):
        validate_table(bad)
