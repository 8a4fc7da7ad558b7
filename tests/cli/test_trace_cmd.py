"""``batchsim trace stats|convert|synth`` end to end through cli.main."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from batchsim.cli.main import main
from batchsim.traces.load import load_trace

AZURE = """TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:15:46.0,100,10
2023-11-16 18:15:47.0,200,20
2023-11-16 18:15:49.0,300,30
2023-11-16 18:15:52.0,400,40
"""


@pytest.fixture
def azure_file(tmp_path):
    path = tmp_path / "az.csv"
    path.write_text(AZURE)
    return path


def test_stats_json_by_hand(azure_file, capsys):
    assert main(["trace", "stats", str(azure_file), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["format"] == "azure" and stats["count"] == 4
    assert stats["duration_s"] == 6.0 and stats["rate_per_s"] == 0.5
    assert stats["prompt"]["mean"] == 250.0 and stats["prompt_output_correlation"] == pytest.approx(1.0)


def test_stats_text_and_notes_on_stderr(azure_file, capsys):
    assert main(["trace", "stats", str(azure_file), "--limit", "2"]) == 0
    captured = capsys.readouterr()
    assert "requests            2" in captured.out
    assert "note: limit: kept the first 2 of 4 requests" in captured.err


def test_convert_applies_transforms_and_round_trips(azure_file, tmp_path):
    out = tmp_path / "out.parquet"
    assert main(["trace", "convert", str(azure_file), "--rate-scale", "2",
                 "--clip-to-max-len", "250", "--out", str(out)]) == 0
    table = load_trace(out).table
    assert table["arrival_s"].tolist() == [0.0, 0.5, 1.5, 3.0]
    assert table["prompt_tokens"].tolist() == [100, 200, 249, 249]
    assert table["output_tokens"].tolist() == [10, 20, 1, 1]


def test_window_in_seconds(azure_file, tmp_path):
    out = tmp_path / "w.csv"
    assert main(["trace", "convert", str(azure_file), "--window", "1s:4s", "--out", str(out)]) == 0
    assert pd.read_csv(out)["arrival_s"].tolist() == [0.0, 2.0]


def test_bad_row_is_one_line_error_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(AZURE.replace("300,30", "300,abc"))
    assert main(["trace", "stats", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == "batchsim: error: bad.csv line 4, column GeneratedTokens: 'abc' is not an integer\n"
    assert main(["trace", "stats", str(path), "--skip-bad"]) == 0
    assert "note: skipped 1 malformed row" in capsys.readouterr().err


def test_synth_gamma_mixture_and_seed_determinism(tmp_path):
    args = ["trace", "synth", "--arrival", "gamma", "--rate", "20", "--cv", "2",
            "--num-requests", "2000", "--lengths", "mixture", "--component", "0.5:100:10",
            "--component", "0.5:1000-2000:100", "--seed", "7"]
    assert main([*args, "--out", str(tmp_path / "a.csv")]) == 0
    assert main([*args, "--out", str(tmp_path / "b.csv")]) == 0
    first, second = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 2000 and set(first["output_tokens"]) == {10, 100}


def test_synth_empirical_keeps_pairs(azure_file, tmp_path):
    out = tmp_path / "e.csv"
    assert main(["trace", "synth", "--arrival", "poisson", "--rate", "5", "--duration", "60",
                 "--lengths", "empirical", "--lengths-from", str(azure_file), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert (table["prompt_tokens"] == 10 * table["output_tokens"]).all()


def test_synth_needs_its_parameters(tmp_path, capsys):
    assert main(["trace", "synth", "--arrival", "gamma", "--duration", "5",
                 "--out", str(tmp_path / "x.csv")]) == 2
    assert "--arrival gamma needs --rate" in capsys.readouterr().err


def test_unknown_format_lists_supported(tmp_path, capsys):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    assert main(["trace", "stats", str(path)]) == 2
    assert "supported: canonical, azure" in capsys.readouterr().err
