"""Progress bars go to a terminal's stderr only, never with --quiet, never into stdout."""
import sys

from batchsim.cli.main import main


def run_with_terminal(capsys, monkeypatch, *args):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_replay_shows_requests_routed_with_eta_on_a_terminal(capsys, monkeypatch):
    code, out, err = run_with_terminal(capsys, monkeypatch, "replay", "--limit", "5000", "--json")
    assert code == 0 and "replay: 100%" in err and "5000/5000" in err and "<" in err  # elapsed<left
    assert out.lstrip().startswith("{")  # stdout stays the JSON alone


def test_quiet_or_a_pipe_draws_no_bar(capsys, monkeypatch):
    code, _, err = run_with_terminal(capsys, monkeypatch, "replay", "--limit", "500", "--quiet")
    assert code == 0 and "replay:" not in err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert main(["replay", "--limit", "500"]) == 0
    assert "replay:" not in capsys.readouterr().err


def test_plan_counts_its_stages_to_the_end(capsys, monkeypatch):
    # one layout, a trace of several windows: count, rate, then each window is one stage
    code, _, err = run_with_terminal(capsys, monkeypatch, "plan", "--slo", "ttft_p99=2s",
                                     "--limit", "300", "--profile", "roofline", "--workers", "1",
                                     "--policy", "continuous", "--window-s", "20")
    assert code == 0 and "plan: 100%" in err
    total = err.split("plan: 100%")[-1].split("/")[1].split()[0]
    assert int(total) > 2


def test_sweep_bar_counts_points(capsys, monkeypatch, tmp_path):
    code, _, err = run_with_terminal(capsys, monkeypatch, "sweep", "--set", "block_size=16,32",
                                     "--limit", "100", "--profile", "roofline", "--workers", "1",
                                     "--out", str(tmp_path / "s"))
    assert code == 0 and "2/2" in err
