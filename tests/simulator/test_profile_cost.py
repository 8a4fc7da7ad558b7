"""The profile cost model: loading, pricing, its measured range, swap, and no torch needed."""
import subprocess
import sys

import numpy as np
import pytest

from batchsim.simulator.profile_cost import bundled_profiles, load_profile_cost_model
from batchsim.simulator.profile_format import StepRecord, write_profile
from batchsim.simulator.step import StepShape

KV_BYTES = 131072
META = {"name": "synthetic", "mode": "engine", "dtype": "bf16", "dtype_bytes": 2,
        "model": {"name": "llama-3-8b", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                  "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256},
        "memory": {"gpu_memory_bytes": 150_000_000_000, "weight_bytes": 16_000_000_000,
                   "kv_bytes_per_token": KV_BYTES, "reserved_bytes": 1_000_000_000},
        "environment": {"gpu_name": "NVIDIA H200"}, "host_link_bytes_per_s": 50e9}


def _law(chunks, contexts):
    tokens = sum(n for n, _ in chunks) + len(contexts)
    return (8e-3 + 3e-6 * max(0, tokens - 128) + 2e-9 * (sum(contexts) + len(contexts))
            + 4e-11 * sum(n * (c + (n + 1) / 2) for n, c in chunks) + 1e-5 * (len(chunks) + len(contexts)))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    shapes = [([(n, 0)], []) for n in (16, 64, 128, 256, 512, 1024, 2048, 4096, 8192)]
    shapes += [([(1024, 4096)], []), ([(2048, 8192)], [])]
    shapes += [([], [ctx] * b) for b in (1, 2, 4, 8, 16, 32, 64, 128) for ctx in (128, 1024, 4096)]
    shapes += [([(512, 0)], [1024] * 32), ([], [64] * 15 + [4096])]
    records = []
    for chunks, contexts in shapes:
        t = _law(chunks, contexts)
        kind = "mixed" if chunks and contexts else ("prefill" if chunks else "decode")
        records.append(StepRecord(kind, tuple(chunks), len(contexts), sum(contexts), max(contexts, default=0),
                                  t, t, t, 0.9 * t, 0.9 * t, 0.9 * t, 5))
    path = tmp_path_factory.mktemp("profile")
    write_profile(path, META, records)
    return path


def test_prices_unseen_steps_of_its_own_law(synthetic):
    model = load_profile_cost_model(str(synthetic))
    shape = StepShape(prefill_chunks=((300, 700),), decode_count=20, decode_context_sum=20 * 900,
                      decode_context_max=900)
    assert model.step_time_s(shape) == pytest.approx(_law([(300, 700)], [900] * 20), rel=2e-3)


def test_skewed_batch_costs_its_actual_contexts_not_the_mean(synthetic):
    model = load_profile_cost_model(str(synthetic))
    skewed = [64] * 31 + [4000]
    shape = StepShape(decode_count=32, decode_context_sum=sum(skewed), decode_context_max=4000)
    assert model.step_time_s(shape) == pytest.approx(_law([], skewed), rel=2e-3)


def test_measured_range_is_the_largest_of_each_dimension_among_the_steps(synthetic):
    limits = load_profile_cost_model(str(synthetic)).measured_range.limits
    # 8192-token prefill; 128 decodes; 128 x 4097 KV tokens read; a 4096-token context decoding
    # its 4097th; 2048 new after 8192 cached
    assert limits == {"tokens per step": 8192, "decodes per step": 128,
                      "KV tokens per step": 128 * 4097, "context per decode": 4097,
                      "prefill length": 2048 + 8192}


def test_swap_costs_kv_bytes_over_the_host_link(synthetic):
    model = load_profile_cost_model(str(synthetic))
    assert model.step_time_s(StepShape(swap_tokens=1000)) == pytest.approx(1000 * KV_BYTES / 50e9)


def test_memory_facts_and_metadata_come_from_the_profile(synthetic):
    model = load_profile_cost_model(str(synthetic))
    assert model.memory.weight_bytes == 16_000_000_000 and model.memory.kv_bytes_per_token == KV_BYTES
    assert model.model.name == "llama-3-8b" and model.gpu_name == "NVIDIA H200" and model.mode == "engine"
    assert model.held_out_error()["worst_ape_pct"] < 1.0


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(ValueError, match="neither a directory with profile.yaml nor a bundled profile"):
        load_profile_cost_model("no-such-profile")


def test_loads_and_prices_without_torch(synthetic):
    code = ("import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
            "from simulator.profile_cost import load_profile_cost_model\n"
            "from simulator.step import StepShape\n"
            f"m = load_profile_cost_model({str(synthetic)!r})\n"
            "print(m.step_time_s(StepShape(decode_count=4, decode_context_sum=400, decode_context_max=100)) > 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"


def test_bundled_profiles_include_the_default():
    assert "h200-llama-3-8b-engine" in bundled_profiles()


@pytest.mark.parametrize("name", bundled_profiles())
def test_bundled_profile_prices_monotone_along_grid_lines(name):
    """More tokens never cost less: longer prompts, more decodes, longer contexts."""
    model = load_profile_cost_model(name)
    longest = min(8192, model.model.max_position_embeddings)  # no prompt beyond the model's context
    prefill = [model.step_time_s(StepShape(prefill_chunks=((n, 0),))) for n in range(1, longest + 1, 61)]
    assert all(b >= a for a, b in zip(prefill, prefill[1:]))
    kv_limit = model.measured_range.limits["KV tokens per step"]
    for ctx in (128, 1024, 4000):
        decode = [model.step_time_s(StepShape(decode_count=b, decode_context_sum=b * ctx, decode_context_max=ctx))
                  for b in range(1, 129) if b * (ctx + 1) <= kv_limit]
        assert all(b >= a for a, b in zip(decode, decode[1:]))
    longer = [model.step_time_s(StepShape(decode_count=16, decode_context_sum=16 * c, decode_context_max=c))
              for c in range(16, 4096, 64) if 16 * (c + 1) <= kv_limit]
    assert all(b >= a for a, b in zip(longer, longer[1:]))


@pytest.mark.parametrize("name", bundled_profiles())
def test_bundled_profile_reproduces_its_measurements(name):
    """In-sample: the fitted model stays close to the mean (median where no mean was kept) of what
    was measured; within 5%, or within half the gap between the engine's fast and slow modes where
    the profile's repeats show two (transformers' engine without CUDA graphs: whole grid points sit
    in one mode, so neighbouring points differ by that gap and no smooth form follows them)."""
    model = load_profile_cost_model(name)
    priced = np.array([model.step_time_s(StepShape(r.prefill_chunks, r.decode_count, r.decode_context_sum,
                                                   r.decode_context_max)) for r in model.records])
    if "served_from" in model.meta:
        # one served step a row: single steps scatter (70 or 100 ms), so the check is on totals. A
        # least-squares fit of relative error sits below the mean of scattered rows (README,
        # Fidelity: about 6% for this engine); each kind of step's total within 10%
        kinds = np.array([r.kind for r in model.records])
        for kind in set(kinds):
            chosen = kinds == kind
            if chosen.sum() >= 50:
                assert abs(priced[chosen].sum() / model.times_s[chosen].sum() - 1) < 0.10, kind
        return
    errors = sorted(abs(priced / np.array([r.wall_mean_or_median_s for r in model.records]) - 1))
    allowed = 0.05
    if model.spread is not None:
        gap_s = model.spread.levels[1] - model.spread.levels[0]
        allowed = max(allowed, 0.5 * gap_s / float(np.median(model.times_s)))
    assert errors[len(errors) // 2] < allowed


def test_default_profile_follows_gpu_and_model():
    from batchsim.simulator.profile_cost import DEFAULT_PROFILE, default_profile_name
    assert default_profile_name("h200", "llama-3-8b") == DEFAULT_PROFILE
    assert default_profile_name("a100", "llama-3-8b") is None
    assert default_profile_name("h200", "llama-3-8b", modes=("engine",)) == "h200-llama-3-8b-engine"


def test_prefill_beyond_the_grid_keeps_the_quadratic_attention_by_hand(synthetic):
    # The law: 8 ms + 3 us per token past 128 + 40 ps per causal (query, key) pair + 10 us per
    # sequence. Its attention is cheaper than arithmetic allows: Llama-3-8B does 524,288
    # attention FLOPs per pair and 15,009,316,864 dense FLOPs per token, so at the 3 us per
    # token of its GEMMs a pair costs at least 3e-6 * 524288 / 15009316864 = 104.79 ps. Up to
    # the grid's largest prefill attention (8,192 tokens: 8192 * 8193 / 2 pairs) the fit
    # follows the measurements; beyond it every further pair costs the arithmetic's 104.79 ps.
    model = load_profile_cost_model(str(synthetic))
    pairs = lambda n: n * (n + 1) / 2  # noqa: E731
    floor_s = 3e-6 * 524288 / 15009316864
    by_hand = {n: (8e-3 + 3e-6 * (n - 128) + 4e-11 * pairs(n) + 1e-5
                   + (floor_s - 4e-11) * (pairs(n) - pairs(8192))) for n in (32768, 65536)}
    assert by_hand[32768] == pytest.approx(0.160018, rel=1e-5)
    assert by_hand[65536] == pytest.approx(0.427106, rel=1e-5)
    priced = {n: model.step_time_s(StepShape(prefill_chunks=((n, 0),))) for n in by_hand}
    assert priced[65536] / priced[32768] == pytest.approx(0.427106 / 0.160018, rel=1e-3)
    assert priced[32768] == pytest.approx(by_hand[32768], rel=1e-3)
    # inside the grid the law itself, untouched by the floor
    assert model.step_time_s(StepShape(prefill_chunks=((8192, 0),))) == pytest.approx(
        8e-3 + 3e-6 * (8192 - 128) + 4e-11 * pairs(8192) + 1e-5, rel=1e-3)


@pytest.mark.parametrize("name", bundled_profiles())
def test_bundled_prefill_beyond_the_grid_is_never_a_straight_line(name):
    """Past the grid, doubling a prompt adds at least the attention FLOPs' quadratic growth.

    With prompt lengths 2L, 4L, 8L past every knot the dense part is linear, so the second
    difference t(8L) - 2 t(4L) + ... leaves the quadratic part only: for c seconds per causal
    pair, [t(8L) - t(4L)] - 2 [t(4L) - t(2L)] = c (32 - 8 - 2 (8 - 2)) L^2 = 12 c L^2, and c is
    at least attention FLOPs per pair over the FLOP rate of the fitted GEMM slope.
    """
    model = load_profile_cost_model(name)
    longest = int(model.measured_range.limits["prefill length"])
    t = {k: model.step_time_s(StepShape(prefill_chunks=((k * longest, 0),))) for k in (2, 4, 8)}
    second_difference = (t[8] - t[4]) - 2 * (t[4] - t[2])
    spec = model.model
    arithmetic_s_per_pair = (model.fitted.final_slope * spec.attention_flops_per_pair
                             / spec.dense_flops_per_token)
    assert second_difference >= 12 * arithmetic_s_per_pair * longest ** 2 * (1 - 1e-9)
    assert t[8] / t[4] > 2.0


@pytest.mark.parametrize("key, value, message", [
    ("price_ratio_per_run", "abc", r"served_from\.price_ratio_per_run: must be a list of positive numbers"),
    ("steps_per_run", [5, "x"], r"served_from\.steps_per_run: must be a list of positive whole numbers"),
    ("steps_per_run", [5, 5], r"adding up to the \d+ steps"),
])
def test_a_broken_served_bookkeeping_is_named(tmp_path, key, value, message):
    import shutil

    import yaml

    from batchsim.simulator.profile_cost import resolve_profile_path

    profile = tmp_path / "served"
    shutil.copytree(resolve_profile_path("h200-llama-3-8b-engine-served"), profile)
    meta = yaml.safe_load((profile / "profile.yaml").read_text())
    meta["served_from"][key] = value
    (profile / "profile.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    with pytest.raises(ValueError, match=message):
        load_profile_cost_model(str(profile))
