"""``batchsim profile show`` and the profile command's argument errors."""
from batchsim.cli.main import main


def test_show_prints_environment_error_and_overhead(capsys, tmp_path):
    assert main(["profile", "show", "h200-llama-3-8b-engine", "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "NVIDIA H200" in out and "held-out error mean" in out and "CPU overhead" in out
    assert "roofline floor" in out
    assert (tmp_path / "p.png").stat().st_size > 0


def test_show_reports_held_out_error_by_region_and_the_worst_points(capsys):
    from batchsim.simulator.profile_format import read_meta
    from batchsim.simulator.profile_cost import resolve_profile_path

    assert main(["profile", "show", "h200-llama-3-8b-engine-graphs"]) == 0
    out = capsys.readouterr().out
    fit = read_meta(resolve_profile_path("h200-llama-3-8b-engine-graphs"))["fit"]
    assert set(fit["held_out_by_region"]) == {"prefill small", "prefill large", "decode small", "decode large",
                                              "mixed small", "mixed large"}
    for region, errors in fit["held_out_by_region"].items():
        assert f"{region:14s} {errors['held_out_points']:3d}  {errors['mean_ape_pct']:6.2f}%" in out
    worst = fit["worst_points"][0]
    assert f"{worst['error_pct']:+7.2f}%  {worst['step']}" in out
    assert abs(worst["error_pct"]) == max(abs(p["error_pct"]) for p in fit["worst_points"])


def test_show_of_missing_profile_is_one_line_error(capsys):
    assert main(["profile", "show", "does-not-exist"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("batchsim: error: profile 'does-not-exist'") and err.count("\n") == 1


def test_profile_without_model_is_an_error(capsys):
    assert main(["profile", "--out", "x"]) == 2
    assert "one of --model or --config" in capsys.readouterr().err


def test_profile_command_runs_end_to_end_on_the_cpu(capsys, tmp_path):
    import json

    import pytest
    pytest.importorskip("torch")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                  "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 128,
                                  "max_position_embeddings": 256}))
    out = tmp_path / "tiny-eager"
    assert main(["profile", "--config", str(config), "--mode", "eager", "--quick", "--repeats", "2",
                 "--device", "cpu", "--out", str(out)]) == 0
    assert main(["profile", "show", str(out)]) == 0
    assert "profile tiny-eager: " in capsys.readouterr().out


def test_profile_without_cuda_refuses_in_one_line_unless_cpu_is_asked_for(capsys, monkeypatch):
    import pytest
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ([], ["--device", "cuda:0"]):
        assert main(["profile", "--model", "llama-3-8b", "--out", "x", *device]) == 2
        err = capsys.readouterr().err
        assert "no CUDA GPU available" in err and "--device cpu" in err and err.count("\n") == 1


def test_profile_figure_overlays_the_fit_and_the_floor_that_binds_each_phase():
    import pytest

    from batchsim.simulator.hardware import GPUS
    from batchsim.simulator.profile_cost import load_profile_cost_model
    from batchsim.simulator.profile_report import compute_floor_s, fitted_s, profile_figure

    model = load_profile_cost_model("h200-llama-3-8b-engine")
    figure = profile_figure(model, "h200")
    decode_ax, prefill_ax = figure.axes
    assert "HBM floor" in decode_ax.get_title() and "HBM" not in prefill_ax.get_title()
    assert [t.get_text() for t in prefill_ax.get_legend().get_texts()] == [
        "measured", "fitted model", "compute floor (bf16 peak)"]
    measured, fit, floor = prefill_ax.get_lines()
    prefill = sorted((r for r in model.records if r.kind == "prefill" and len(r.prefill_chunks) == 1
                      and r.prefill_chunks[0][1] == 0), key=lambda r: r.num_tokens)
    assert list(fit.get_ydata()) == [fitted_s(model, r) * 1e3 for r in prefill]
    # 2 FLOPs per weight per token at the datasheet's bf16 peak
    big, gpu = prefill[-1], GPUS["h200"]
    expected_ms = 2 * model.memory.weight_bytes / 2 * big.num_tokens / gpu.bf16_flops * 1e3
    assert floor.get_ydata()[-1] == pytest.approx(expected_ms)
    assert compute_floor_s(model, big, gpu) * 1e3 == pytest.approx(expected_ms)
    assert all(f <= m for f, m in zip(floor.get_ydata(), measured.get_ydata()))  # a floor
    # decode: per context, dots (measured), a solid fit and a dotted HBM floor
    styles = [line.get_linestyle() for line in decode_ax.get_lines()]
    assert styles.count("-") == styles.count(":") == styles.count("None") > 0
