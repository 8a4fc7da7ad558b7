"""Each figure has the axes, labels, series and legend entries its data calls for."""
import numpy as np
import pandas as pd
import pytest

from batchsim.plots.latency import latency_cdfs, latency_vs_rate
from batchsim.plots.save import save_figure
from batchsim.plots.throughput import throughput_vs_batch
from batchsim.plots.timeline import slot_timeline
from batchsim.plots.usage import kv_and_queue


def sweep_frame():
    rows = []
    for policy, throughput in (("static", [300, 500, 600, 610]),
                               ("continuous", [400, 900, 1800, 3500])):
        for slots, value, rate in zip((8, 16, 32, 64), throughput, (1.0, 2.0, 4.0, 8.0)):
            rows.append({"policy": policy, "slots": slots, "output_throughput": value,
                         "offered_rate_per_s": rate, "p99_ttft_ms": 100.0 * rate,
                         "p99_e2el_ms": 1000.0 * rate, "model": "llama-3-8b", "gpu": "h200"})
    return pd.DataFrame(rows)


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_throughput_against_batch_has_one_line_per_policy():
    figure = throughput_vs_batch(sweep_frame())
    (ax,) = figure.axes
    assert ax.get_ylabel() == "output throughput (tokens/s)"
    assert "batch limit" in ax.get_xlabel() and ax.get_xscale() == "log"
    assert "llama-3-8b on h200" in ax.get_title()
    assert legend_texts(ax) == ["static", "continuous"]
    lines = ax.get_lines()
    assert len(lines) == 2
    assert list(lines[1].get_xdata()) == [8, 16, 32, 64]
    assert list(lines[1].get_ydata()) == [400, 900, 1800, 3500]


def test_latency_against_rate_draws_the_slo():
    figure = latency_vs_rate(sweep_frame(), {"ttft": 2.0})
    ttft_ax, e2e_ax = figure.axes
    assert ttft_ax.get_ylabel() == "P99 TTFT (s)" and e2e_ax.get_ylabel() == "P99 E2E latency (s)"
    assert ttft_ax.get_xlabel() == "offered request rate (requests/s)"
    assert legend_texts(ttft_ax) == ["static", "continuous", "SLO TTFT P99 = 2 s"]
    assert legend_texts(e2e_ax) == ["static", "continuous"]
    slo_line = ttft_ax.get_lines()[-1]
    assert list(slo_line.get_ydata()) == [2.0, 2.0]
    assert list(ttft_ax.get_lines()[0].get_ydata()) == [0.1, 0.2, 0.4, 0.8]  # seconds


def test_extrapolated_points_are_ringed_in_sweep_figures():
    frame = sweep_frame()
    frame["extrapolated_share"] = [0.0] * 7 + [0.25]  # continuous at 64 slots (rate 8)
    (ax,) = throughput_vs_batch(frame).axes
    (rings,) = ax.collections
    assert rings.get_offsets().tolist() == [[64, 3500]]
    assert "beyond the profile's measured range" in legend_texts(ax)
    ttft_ax, _ = latency_vs_rate(frame).axes
    assert ttft_ax.collections[0].get_offsets().tolist() == [[8.0, 0.8]]
    (plain,) = throughput_vs_batch(sweep_frame()).axes
    assert not plain.collections


def test_latency_cdfs_end_at_one_for_each_run():
    runs = {name: pd.DataFrame({"ttft_s": np.linspace(0.1, 1, 10) * k,
                                "tpot_s": np.full(10, 0.02 * k), "e2e_s": np.arange(1, 11) * k,
                                "status": ["finished"] * 9 + ["rejected"]})
            for name, k in (("static", 3.0), ("continuous", 1.0))}
    figure = latency_cdfs(runs, "demo", slo_s={"ttft": 2.0})
    assert [ax.get_xlabel() for ax in figure.axes] == ["TTFT (s)", "TPOT (ms)", "E2E latency (s)"]
    assert [ax.get_xscale() for ax in figure.axes] == ["log", "linear", "log"]
    for ax in figure.axes:
        curves = [line for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]
        assert [line.get_label() for line in curves] == ["static", "continuous"]
        for line in curves:
            assert len(line.get_ydata()) == 9 and line.get_ydata()[-1] == 1.0
        # P50 and P99 of each run marked at heights 0.5 and 0.99
        heights = sorted(float(c.get_offsets()[0][1]) for c in ax.collections)
        assert heights == [0.5, 0.5, 0.99, 0.99]
        assert legend_texts(ax)[-2:] == ["P50", "P99"]
    ttft = figure.axes[0]
    continuous_p50 = np.percentile(np.linspace(0.1, 1, 10)[:9], 50)
    assert any(float(c.get_offsets()[0][0]) == pytest.approx(continuous_p50)
               for c in ttft.collections)
    slo = [line for line in ttft.get_lines() if line.get_label().startswith("SLO")]
    assert len(slo) == 1 and list(slo[0].get_xdata()) == [2.0, 2.0]
    assert "SLO TTFT = 2 s" in legend_texts(ttft)
    assert figure.axes[1].get_lines()[1].get_xdata()[0] == pytest.approx(20.0)  # ms


def test_validation_cdf_ticks_stay_few_and_in_seconds():
    from batchsim.plots.validation import validation_cdfs

    ms = {key: np.geomspace(10.0, 150_000.0, 200) for key in ("ttft", "tpot", "e2e")}
    figure = validation_cdfs("overloaded run", ms, {k: v * 1.1 for k, v in ms.items()},
                             "simulated as vllm, profile x")
    ttft, tpot, _ = figure.axes
    assert ttft.get_xlabel() == "TTFT (s)" and tpot.get_xlabel() == "TPOT (ms)"
    figure.canvas.draw()
    for ax in figure.axes:
        low, high = ax.get_xlim()
        shown = [t for t in ax.get_xticks() if low <= t <= high]
        assert 2 <= len(shown) <= 7
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert all(len(label) <= 7 for label in labels)  # no 100000125000150000
    assert figure._suptitle.get_text() == "Fidelity: overloaded run (simulated as vllm, profile x)"


def test_timeline_has_a_row_per_slot_and_a_bar_per_request_and_padding():
    table = pd.DataFrame({"request_id": [0, 1, 2, 3], "arrival_s": [0.0, 0.0, 1.0, 1.0],
                          "queue_s": [0.0, 0.0, 0.0, 0.0], "finish_s": [1.0, 0.5, 2.0, 1.5],
                          "status": ["finished"] * 4})
    figure = slot_timeline([("static", table, 4, True), ("continuous", table, 4, False)])
    static_ax, continuous_ax = figure.axes
    assert [t.get_text() for t in static_ax.get_yticklabels()] == [f"slot {i}" for i in range(4)]
    # static: 4 request bars + 2 padding bars (requests 1 and 3 finish before their batch)
    assert len(static_ax.patches) == 6 and len(continuous_ax.patches) == 4
    assert static_ax.get_xlabel() == "time (s)" and static_ax.get_ylabel() == "batch slot"
    assert "padding" in static_ax.get_title() and "padding" not in continuous_ax.get_title()
    assert [t.get_text() for t in figure.legends[0].get_texts()][1].startswith("slot held")


def test_kv_and_queue_plot_each_replica_as_a_fraction_of_capacity():
    steps = pd.DataFrame({"replica": [0, 1, 0, 1], "start_s": [0.0, 0.0, 1.0, 1.0],
                          "kv_blocks_used": [10, 20, 30, 40], "waiting": [0, 1, 2, 3]})
    figure = kv_and_queue(steps, 100)
    kv_ax, queue_ax = figure.axes
    assert kv_ax.get_ylabel() == "KV cache used (fraction of capacity)"
    assert queue_ax.get_ylabel() == "requests waiting" and queue_ax.get_xlabel() == "time (s)"
    assert list(kv_ax.get_lines()[1].get_ydata()) == [0.2, 0.4]
    assert list(queue_ax.get_lines()[0].get_ydata()) == [0, 2]
    assert legend_texts(kv_ax) == ["replica 0", "replica 1"]


def test_save_writes_png_and_svg(tmp_path):
    png, svg = save_figure(throughput_vs_batch(sweep_frame()), str(tmp_path / "figs"), "tp")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="no 'slots' column"):
        throughput_vs_batch(pd.DataFrame({"policy": ["static"], "output_throughput": [1.0]}))


def test_sweep_lines_split_on_every_knob_that_varies():
    # continuous at two token budgets and static (budget does not apply): three lines, each
    # with its own points, never one zig-zag through all of them
    rows = []
    for policy, budget, factor in (("static", None, 1.0), ("continuous", 2048, 2.0),
                                   ("continuous", 8192, 3.0)):
        for rate_scale in (1.0, 2.0, 4.0):
            rows.append({"policy": policy, "max_num_batched_tokens": budget, "slots": 8 * rate_scale,
                         "rate_scale": rate_scale, "offered_rate_per_s": rate_scale,
                         "output_throughput": 100 * factor * rate_scale,
                         "p99_ttft_ms": 10.0 * factor * rate_scale, "p99_e2el_ms": 100.0 * factor})
    frame = pd.DataFrame(rows).assign(cost_model="roofline llama-3-8b on h200", trace="conv.csv")
    figure = latency_vs_rate(frame)
    assert "conv.csv, roofline llama-3-8b on h200" in figure._suptitle.get_text()
    ttft_ax, _ = figure.axes
    assert legend_texts(ttft_ax) == ["static, max_num_batched_tokens=n/a",
                                     "continuous, max_num_batched_tokens=2048",
                                     "continuous, max_num_batched_tokens=8192"]
    assert [list(line.get_xdata()) for line in ttft_ax.get_lines()] == [[1.0, 2.0, 4.0]] * 3
    assert ttft_ax.get_yscale() == "log"
    (ax,) = throughput_vs_batch(frame).axes  # rate_scale varies too: it splits lines here
    assert len(ax.get_lines()) == 9
