"""The profiler end to end on the CPU with a tiny model: same code path as on a GPU, host timers."""
import argparse
import json

import pytest

torch = pytest.importorskip("torch")

from batchsim.profiler.grid import build_grid, build_static_grid  # noqa: E402
from batchsim.profiler.options import add_profile_arguments  # noqa: E402
from batchsim.profiler.run import profile  # noqa: E402
from batchsim.simulator.profile_cost import load_profile_cost_model  # noqa: E402
from batchsim.simulator.profile_format import read_depth_rows, read_meta, read_steps  # noqa: E402

TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 256, "max_position_embeddings": 512}


def _args(tmp_path, *extra, config_fields=TINY):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(config_fields))
    parser = argparse.ArgumentParser()
    add_profile_arguments(parser)
    return parser.parse_args(["--config", str(config), "--quick", "--repeats", "2", "--warmup", "1",
                              "--device", "cpu", *extra])


def test_cuda_graph_mode_times_every_grid_point(tmp_path):
    mode = "cuda-graph"
    out = profile(_args(tmp_path, "--mode", mode, "--out", str(tmp_path / mode)))
    steps = read_steps(out)
    grid = build_grid(8192, 512, 1 << 14, quick=True)
    assert [(s.kind, s.prefill_chunks, s.decode_count) for s in steps] == \
        [(p.kind, p.chunks, p.decode_count) for p in grid]
    assert all(s.status == "ok" and s.repeats == 2 and s.wall_s >= s.gpu_s > 0 for s in steps)
    meta = read_meta(out)
    assert meta["model"]["hidden_size"] == 64 and meta["mode"] == mode
    assert meta["memory"]["kv_bytes_per_token"] == 2 * 2 * 2 * 16 * 2  # K+V, layers, KV heads, head dim, bf16
    assert load_profile_cost_model(str(out)).model.hidden_size == 64


def test_engine_mode_records_what_the_engine_ran(tmp_path):
    out = profile(_args(tmp_path, "--mode", "engine", "--out", str(tmp_path / "engine"),
                        "--engine-option", "num_blocks=64", "--engine-option", "max_batch_tokens=64",
                        "--engine-option", "block_size=16"))
    steps = read_steps(out)
    assert all(s.status == "ok" for s in steps)
    # a 72-token prompt under a 64-token step budget runs as 64 new, then 8 new over 64 cached; its
    # repeats' last chunks are 8, 7, 9, 6 tokens (fresh shapes) and the middle timed one, 9, is kept
    assert ((9, 64),) in [s.prefill_chunks for s in steps]
    decodes = [s for s in steps if s.kind == "decode"]
    assert [s.decode_count for s in decodes] == [1, 4, 4, 8, 2, 16]
    # the middle of 3 timed steps after 1 warm-up decode has 2 decoded tokens on top of the prompt
    assert decodes[0].decode_context_sum == 16 + 2
    engine = read_meta(out)["engine"]
    assert engine["max_batch_tokens"] == 64 and engine["block_size"] == 16 and engine["scheduler_type"] == "fifo"


def test_eager_mode_times_generate_on_padded_batches(tmp_path):
    out = profile(_args(tmp_path, "--mode", "eager", "--out", str(tmp_path / "eager")))
    steps = read_steps(out)
    assert all(s.status == "ok" and s.note == "generate" for s in steps)
    rows = [len(p.chunks) for p in build_static_grid(512, 1 << 20, quick=True) if p.kind == "prefill"]
    assert rows == [1, 2, 1, 4, 2, 4]  # pairs (1, 8), (2, 8), (1, 32), (4, 8), (2, 32), (4, 32)
    # every call pads to a width no earlier call of that row count used, 4 apart (prefill + 3 decodes):
    # the warm-up point took widths 8, 12, 16 for one row, so pair (1, 8) runs 20 (warm-up), 24, 28
    # and records the median timed width 28; (1, 32) then runs 32, 36, 40 -> 40; the first pairs of
    # two and four rows run 8, 12, 16 -> 16, and their 32-token pairs 32, 36, 40 -> 40
    widths = [28, 16, 40, 16, 40, 40]
    assert [s.prefill_chunks for s in steps if s.kind == "prefill"] == \
        [((width, 0),) * n for n, width in zip(rows, widths)]
    decodes = [s for s in steps if s.kind == "decode"]
    # 3 decode steps per call read the padded prompt plus 0, 1, 2 tokens: recorded at +1
    assert [(s.decode_count, s.decode_context_sum, s.decode_context_max) for s in decodes] == \
        [(n, n * (width + 1), width + 1) for n, width in zip(rows, widths)]
    assert all(s.repeats == 2 for s in steps if s.kind == "prefill")  # one per timed call
    assert all(s.repeats == 6 for s in decodes)  # three per timed call


SIX_LAYERS = {**TINY, "num_hidden_layers": 6}


def test_tp_shard_timed_at_two_depths_and_scaled_to_full_depth(tmp_path):
    out = profile(_args(tmp_path, "--mode", "cuda-graph", "--tp", "2", "--layers", "1,2", "--full-depth-check", "3",
                        "--out", str(tmp_path / "tp2"), config_fields=SIX_LAYERS))
    meta, steps, rows = read_meta(out), read_steps(out), read_depth_rows(out)
    shard = meta["model"]
    assert (shard["hidden_size"], shard["num_attention_heads"], shard["num_key_value_heads"], shard["head_dim"],
            shard["intermediate_size"], shard["vocab_size"], shard["num_hidden_layers"]) == (64, 2, 1, 16, 64, 128, 6)
    # per layer: qkv 64 x (32 + 16 + 16), o 32 x 64, gate_up 64 x 128, down 64 x 64, two norms of 64
    layer = 64 * 64 + 32 * 64 + 64 * 128 + 64 * 64 + 2 * 64
    assert meta["memory"]["weight_bytes"] == 2 * (6 * layer + 2 * 128 * 64 + 64)
    assert meta["memory"]["kv_bytes_per_token"] == 2 * 6 * 1 * 16 * 2
    assert meta["tensor_parallel"]["degree"] == 2
    # quick grid of 15 points: checks at the first, middle and last; every point at 1 and 2 layers
    assert [layers for layers, _ in rows].count(6) == 3 and len(rows) == 2 * 15 + 3
    timed = [(layers, r) for layers, r in rows if layers != 6]
    for i, step in enumerate(steps):
        (_, one), (_, two) = timed[2 * i], timed[2 * i + 1]
        assert step.prefill_chunks == one.prefill_chunks == two.prefill_chunks
        assert step.wall_s == pytest.approx(max(two.wall_s + 4 * (two.wall_s - one.wall_s), two.wall_s), rel=1e-6)
    assert meta["depth_scaling"]["layers_timed"] == [1, 2] and meta["depth_scaling"]["check_points"] == 3
    assert meta["depth_scaling"]["steps_csv"] == "scaled to full depth"


def test_checking_every_point_keeps_the_full_depth_measurements(tmp_path):
    out = profile(_args(tmp_path, "--mode", "cuda-graph", "--tp", "2", "--layers", "2", "--full-depth-check", "99",
                        "--out", str(tmp_path / "tp2"), config_fields=SIX_LAYERS))
    rows, steps = read_depth_rows(out), read_steps(out)
    assert [layers for layers, _ in rows] == [0, 2, 6] * 15  # one depth N is timed with 0 layers
    assert steps == [record for layers, record in rows if layers == 6]
    assert read_meta(out)["depth_scaling"]["steps_csv"] == "measured at full depth"


def test_reduced_depth_needs_cuda_graph_mode(tmp_path):
    with pytest.raises(ValueError, match="--layers"):
        profile(_args(tmp_path, "--mode", "eager", "--layers", "1", "--out", str(tmp_path / "x")))


def test_engine_reopened_under_a_smaller_budget_splits_prompts_by_it(tmp_path):
    pytest.importorskip("transformers")
    from batchsim.profiler.engine_runner import EngineRunner
    from batchsim.profiler.grid import GridPoint
    from batchsim.profiler.run import build_hf_model, resolve_spec

    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))
    model = build_hf_model(resolve_spec(None, str(config), "fp32"), torch.device("cpu"), torch.float32)
    runner = EngineRunner(model, repeats=2, warmup=1,
                          overrides={"num_blocks": 64, "max_batch_tokens": 64, "block_size": 16})
    assert runner.use_budget(32) and not runner.use_budget(32)
    # a 64-token prompt under a 32-token budget: its timed last chunk is new tokens over 32 cached;
    # the repeats' chunks are 32 (warm-up), 31, 30 (timed: no room to grow), and the row keeps 30
    record = runner.run_point(GridPoint("prefill", ((32, 32),), budget=32))
    assert record.status == "ok" and record.prefill_chunks == ((30, 32),)
    assert record.repeats == 2 and len(record.wall_samples_s) == 2
    assert record.wall_mean_s == pytest.approx(sum(record.wall_samples_s) / 2, abs=1e-6)
    assert runner.use_budget(None)  # back to the profile's own settings
    assert runner.run_point(GridPoint("prefill", ((48, 0),))).prefill_chunks == ((49, 0),)  # 48, 47, 49


def test_chunk_repeats_never_repeat_a_shape():
    pytest.importorskip("transformers")
    from batchsim.profiler.engine_runner import fresh_chunk_length

    # a chunk that fills the budget can only shrink
    assert [fresh_chunk_length(512, repeat, 512) for repeat in range(5)] == [512, 511, 510, 509, 508]
    # otherwise it alternates about the grid point's length, within 1..room; 5 lengths fit in a room of 5
    assert [fresh_chunk_length(3, repeat, 5) for repeat in range(7)] == [3, 2, 4, 1, 5, 3, 2]
    assert [fresh_chunk_length(100, repeat, 2048) for repeat in range(5)] == [100, 99, 101, 98, 102]
