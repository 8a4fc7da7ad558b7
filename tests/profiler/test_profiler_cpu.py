"""The profiler end to end on the CPU with a tiny model: same code path as on a GPU, host timers."""
import argparse
import json

import pytest

torch = pytest.importorskip("torch")

from profiler.grid import build_grid  # noqa: E402
from profiler.options import add_profile_arguments  # noqa: E402
from profiler.run import profile  # noqa: E402
from simulator.profile_cost import load_profile_cost_model  # noqa: E402
from simulator.profile_format import read_meta, read_steps  # noqa: E402

TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 256, "max_position_embeddings": 512}


def _args(tmp_path, *extra):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))
    parser = argparse.ArgumentParser()
    add_profile_arguments(parser)
    return parser.parse_args(["--config", str(config), "--quick", "--repeats", "2", "--warmup", "1",
                              "--device", "cpu", *extra])


@pytest.mark.parametrize("mode", ["eager", "cuda-graph"])
def test_dense_modes_time_every_grid_point(tmp_path, mode):
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
    # a 72-token prompt under a 64-token step budget runs as 64 new, then 8 new over 64 cached
    assert ((8, 64),) in [s.prefill_chunks for s in steps]
    decodes = [s for s in steps if s.kind == "decode"]
    assert [s.decode_count for s in decodes] == [1, 4, 4, 8, 2, 16]
    # the middle of 3 timed steps after 1 warm-up decode has 2 decoded tokens on top of the prompt
    assert decodes[0].decode_context_sum == 16 + 2
    engine = read_meta(out)["engine"]
    assert engine["max_batch_tokens"] == 64 and engine["block_size"] == 16 and engine["scheduler_type"] == "fifo"
