"""``batchsim profile show`` and the profile command's argument errors."""
from cli.main import main


def test_show_prints_environment_error_and_overhead(capsys, tmp_path):
    assert main(["profile", "show", "h200-llama-3-8b-engine", "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "NVIDIA H200" in out and "held-out error mean" in out and "CPU overhead" in out
    assert "roofline floor" in out
    assert (tmp_path / "p.png").stat().st_size > 0


def test_show_of_missing_profile_is_one_line_error(capsys):
    assert main(["profile", "show", "does-not-exist"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("batchsim: error: profile 'does-not-exist'") and err.count("\n") == 1


def test_profile_without_model_is_an_error(capsys):
    assert main(["profile", "--out", "x"]) == 2
    assert "one of --model or --config" in capsys.readouterr().err
