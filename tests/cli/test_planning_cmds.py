"""``batchsim sweep``, ``plan`` and ``plot`` end to end, with one-line errors."""
import json

import pandas as pd
import pytest

from batchsim.cli.main import main


def call(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sweep_writes_one_row_per_point(capsys, tmp_path):
    code, out, _ = call(capsys, "sweep", "--set", "policy=static,continuous", "--set",
                        "batch=8,32", "--limit", "300", "--profile", "roofline", "--workers", "2",
                        "--out", str(tmp_path / "res"))
    assert code == 0
    frame = pd.read_parquet(tmp_path / "res.parquet")
    assert len(frame) == 4 and list(frame["point"]) == [0, 1, 2, 3]
    assert pd.read_csv(tmp_path / "res.csv")["output_throughput"].tolist() == pytest.approx(
        frame["output_throughput"].tolist())
    assert "P99 TTFT ms" in out and "wrote" in out


def test_sweep_skips_points_whose_knobs_the_policy_ignores(capsys, tmp_path):
    code, out, err = call(capsys, "sweep", "--set", "policy=static,continuous", "--set",
                          "batch_size=4,8", "--set", "max_num_seqs=8,16", "--limit", "100",
                          "--profile", "roofline", "--workers", "1", "--out", str(tmp_path / "r"))
    assert code == 0
    assert "skipped 4 of 8 grid points" in err  # static x2 max_num_seqs, continuous x2 batch_size
    assert "(4 points; 4 duplicate grid points skipped)" in out
    frame = pd.read_parquet(tmp_path / "r.parquet")
    blank = lambda column: [None if pd.isna(v) else int(v) for v in frame[column]]  # noqa: E731
    assert frame["policy"].tolist() == ["static", "static", "continuous", "continuous"]
    assert blank("batch_size") == [4, 8, None, None]
    assert blank("max_num_seqs") == [None, None, 8, 16]


def test_sweep_grid_file_and_errors(capsys, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("max_num_seqs: [16, 64]\nrate_scale: 2\n")
    code, _, _ = call(capsys, "sweep", "--grid", str(grid), "--limit", "200", "--workers", "1",
                      "--profile", "roofline", "--out", str(tmp_path / "g"))
    assert code == 0 and len(pd.read_csv(tmp_path / "g.csv")) == 2
    code, _, err = call(capsys, "sweep", "--set", "max_num_seqs=8,lots", "--out", str(tmp_path))
    assert code == 2 and err.strip() == ("batchsim: error: sweep setting max_num_seqs: 'lots' is "
                                         "not an integer")
    code, _, err = call(capsys, "sweep", "--out", str(tmp_path / "x"))
    assert code == 2 and "needs --set" in err


def test_sweep_varies_the_trace_across_files(capsys, tmp_path):
    from tests.planning.traces import poisson_trace

    paths = []
    for name, count in (("a", 120), ("b", 80)):
        paths.append(tmp_path / f"{name}.csv")
        poisson_trace(count, 10.0, seed=count).to_csv(paths[-1], index=False)
    code, out, _ = call(capsys, "sweep", "--set", f"trace={paths[0]},{paths[1]}", "--set",
                        "policy=static,continuous", "--profile", "roofline", "--workers", "1",
                        "--out", str(tmp_path / "t"))
    frame = pd.read_csv(tmp_path / "t.csv")
    assert code == 0 and list(frame["trace"]) == [str(paths[0])] * 2 + [str(paths[1])] * 2
    assert list(frame["completed"] + frame["rejected"]) == [120, 120, 80, 80]


def long_prompt_trace(tmp_path):
    """40 requests, one in four a 6,000-token prompt that decodes past the bundled profile's
    4,097-token contexts (its last decode: 6,019, 1.47x)."""
    trace = tmp_path / "long.csv"
    rows = [f"{0.5 * i},{6000 if i % 4 == 1 else 100},20" for i in range(40)]
    trace.write_text("arrival_s,prompt_tokens,output_tokens\n" + "\n".join(rows) + "\n")
    return str(trace)


def test_sweep_rows_plan_evidence_and_strict_range(capsys, tmp_path):
    trace = long_prompt_trace(tmp_path)
    code, out, _ = call(capsys, "sweep", "--trace", trace, "--set", "max_num_seqs=8,16",
                        "--workers", "1", "--out", str(tmp_path / "s"))
    frame = pd.read_csv(tmp_path / "s.csv")
    assert code == 0 and list(frame["range_status"]) == ["extrapolated"] * 2
    assert (frame["extrapolated_share"] > 0).all()
    assert set(frame["extrapolation_worst_dimension"]) == {"context per decode"}
    assert "measured range: 2 of 2 points extrapolated" in out
    code, out, err = call(capsys, "sweep", "--trace", trace, "--set", "max_num_seqs=8,16",
                          "--workers", "1", "--strict-range", "--out", str(tmp_path / "strict"))
    assert code == 2 and not (tmp_path / "strict.csv").exists()
    assert "--strict-range: 2 of 2 points" in err and "context per decode 1.47x" in err
    code, out, _ = call(capsys, "plan", "--trace", trace, "--slo", "ttft_p99=1s",
                        "--workers", "1", "--window-s", "0")
    assert code == 0 and "Measured range (share of steps out)" in out
    assert "Range at 1: extrapolated" in out and "range at that rate: extrapolated" in out
    code, _, err = call(capsys, "plan", "--trace", trace, "--slo", "ttft_p99=1s",
                        "--workers", "1", "--window-s", "0", "--strict-range")
    assert code == 2 and "--strict-range: the continuous plan's evidence goes beyond" in err
    code, out, _ = call(capsys, "plan", "--trace", trace, "--slo", "ttft_p99=1s", "--profile",
                        "roofline", "--workers", "1", "--window-s", "0", "--json")
    assert code == 0 and json.loads(out)["extrapolation"]["status"] == "unprofiled"


def test_plan_reports_the_answer_and_evidence(capsys):
    code, out, _ = call(capsys, "plan", "--slo", "ttft_p99=1s,tpot_p99=20ms", "--limit", "1200",
                        "--rate-scale", "8", "--profile", "roofline", "--workers", "1",
                        "--gpu-cost-per-hour", "2.50")
    assert code == 0
    assert "Answer:" in out and "Evidence (full replays)" in out
    assert "Highest sustainable rate" in out and "per million output tokens" in out
    assert "FAIL" in out  # the column one replica below


def test_plan_json_and_policy_all(capsys):
    code, out, _ = call(capsys, "plan", "--slo", "ttft_p99=2s", "--limit", "400", "--policy",
                        "all", "--profile", "roofline", "--workers", "1", "--json",
                        "--window-s", "0")
    records = json.loads(out)
    assert code == 0 and [r["policy"] for r in records] == ["static", "continuous", "chunked"]
    for record in records:
        assert record["gpus"] == record["replicas"] >= 1
        assert record["at_count"]["p99_ttft_ms"] <= 2000.0
        assert record["cost"]["per_hour"] is None  # no price given, none invented
    code, out, _ = call(capsys, "plan", "--slo", "ttft_p99=2s", "--limit", "200", "--policy",
                        "all", "--profile", "roofline", "--workers", "1", "--window-s", "0")
    assert "layouts compared" in out and "not computed" in out
    assert "mean batch" in out and "slot util" in out and "verdict" in out
    assert "Knobs tried:" in out and "batch_size=32 max_wait_s=0.5:" in out  # a quarter of 2 s


def test_plan_compares_tensor_parallel_layouts(capsys):
    # Llama-3-70B cannot hold its weights on one H200 (141 GB of bf16 weights), so TP 1 is
    # skipped with the reason; TP 2 and TP 4 are planned and the fewest-GPU layout is named
    code, out, _ = call(capsys, "plan", "--slo", "ttft_p99=5s,tpot_p99=200ms", "--limit", "300",
                        "--model", "llama-3-70b", "--profile", "roofline", "--tp-options", "1,2,4",
                        "--workers", "1", "--window-s", "0")
    assert code == 0
    assert "continuous TP 1 skipped: no room for a KV cache: weights 141.1 GB in" in out
    assert "larger gpu_memory_utilization" in out  # the reason in full, never cut short
    rows = [line.split() for line in out.splitlines()
            if line.startswith("continuous ") and "skipped" not in line]
    assert [int(r[1]) for r in rows] == [2, 4]
    # policy, TP, knobs (first line), replicas, GPUs, rate, mean batch, slot util, verdict
    gpus = {int(r[1]): int(r[4]) for r in rows}
    assert all(r[8] in ("stable", "backlogged", "overloaded") for r in rows)
    best = min(gpus.values())
    assert f"= {best} GPU(s)" in out


def test_policy_all_plans_the_same_over_worker_processes(capsys):
    args = ("plan", "--slo", "ttft_p99=2s", "--limit", "300", "--policy", "all", "--profile",
            "roofline", "--json", "--window-s", "20")
    plans = {}
    for workers in ("1", "2"):  # 2: each worker plans whole policies
        code, out, _ = call(capsys, *args, "--workers", workers)
        assert code == 0
        plans[workers] = json.loads(out)
    assert plans["1"] == plans["2"]


@pytest.mark.parametrize("args, message", [
    ((), "plan needs --slo"), (("--slo", "speed=fast"), "bad SLO term 'speed=fast'"),
    (("--slo", "ttft=1s", "--policy", "magic"), "unknown policy 'magic'"),
    (("--slo", "ttft=1s", "--replicas", "3"), "drop --replicas")])
def test_plan_errors_are_one_line(capsys, args, message):
    code, _, err = call(capsys, "plan", "--limit", "50", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_plot_timeline_demo_and_replay_figures(capsys, tmp_path):
    code, out, _ = call(capsys, "plot", "timeline", "--out", str(tmp_path / "demo"))
    assert code == 0 and (tmp_path / "demo" / "timeline.png").stat().st_size > 10_000
    assert (tmp_path / "demo" / "timeline.svg").exists()
    run = tmp_path / "run"
    assert main(["replay", "--limit", "200", "--profile", "roofline", "--out", str(run)]) == 0
    capsys.readouterr()
    for kind in ("cdf", "kv-queue", "timeline"):
        code, out, _ = call(capsys, "plot", kind, str(run), "--out", str(tmp_path / "figs"))
        assert code == 0 and (tmp_path / "figs" / f"{kind}.png").exists()


def test_plot_from_sweep_results_and_bad_inputs(capsys, tmp_path):
    assert main(["sweep", "--set", "rate_scale=1,4", "--set", "policy=static,continuous",
                 "--limit", "200", "--profile", "roofline", "--workers", "1",
                 "--out", str(tmp_path / "res")]) == 0
    capsys.readouterr()
    for kind in ("throughput-vs-batch", "latency-throughput"):
        code, _, _ = call(capsys, "plot", kind, str(tmp_path / "res.parquet"), "--slo",
                          "ttft_p99=2s", "--out", str(tmp_path / "figs"))
        assert code == 0 and (tmp_path / "figs" / f"{kind}.svg").exists()
    code, _, err = call(capsys, "plot", "cdf", str(tmp_path), "--out", str(tmp_path))
    assert code == 2 and "not a replay --out directory" in err
    code, _, err = call(capsys, "plot", "throughput-vs-batch", str(tmp_path / "none.csv"),
                        "--out", str(tmp_path))
    assert code == 2 and "no such results file" in err
