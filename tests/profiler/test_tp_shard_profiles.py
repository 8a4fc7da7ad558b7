"""The bundled tensor-parallel shard profiles (Llama-3-70B, TP 4 and 8, H200): shard shape, memory
per GPU, the replica cost model, and the depth-scaling rule checked on the committed measurements.

Each grid point was timed through 10 and 20 layers and at the full 80 (depths.csv); steps.csv keeps
the full-depth measurements.
"""
import numpy as np
import pytest

from batchsim.planning.costs import build_cost_model
from batchsim.profiler.depth import check_errors
from batchsim.simulator import profile_fit
from batchsim.simulator.models import get_model
from batchsim.simulator.profile_cost import load_profile_cost_model, resolve_profile_path
from batchsim.simulator.profile_format import read_depth_rows, read_meta, read_steps
from batchsim.simulator.step import StepShape
from batchsim.simulator.tensor_parallel import TensorParallelCostModel, shard_spec

PROFILES = {4: "h200-llama-3-70b-tp4-cuda-graph", 8: "h200-llama-3-70b-tp8-cuda-graph"}
FULL = 80


def _rows(tp: int) -> list:
    return read_depth_rows(resolve_profile_path(PROFILES[tp]))


@pytest.mark.parametrize("tp", [4, 8])
def test_profile_prices_one_shard_with_per_gpu_memory(tp):
    model = load_profile_cost_model(PROFILES[tp])
    shard = shard_spec(get_model("llama-3-70b"), tp)
    got = model.model
    assert (got.hidden_size, got.head_dim, got.num_attention_heads, got.num_key_value_heads,
            got.intermediate_size, got.vocab_size, got.num_hidden_layers) == \
        (8192, 128, 64 // tp, 8 // tp, 28672 // tp, 128256 // tp, FULL)
    # the shard's matrices plus two RMSNorm weights per layer and the final one, in bf16
    assert model.memory.weight_bytes == shard.weight_bytes + (2 * FULL + 1) * 8192 * 2
    assert model.memory.kv_bytes_per_token == 2 * FULL * (8 // tp) * 128 * 2


@pytest.mark.parametrize("tp", [4, 8])
def test_tp_replica_uses_the_shard_profile_plus_all_reduces(tp):
    cost = build_cost_model("h200", "llama-3-70b", tp=tp)
    assert isinstance(cost, TensorParallelCostModel) and cost.shard_cost.name == PROFILES[tp]
    shape = StepShape((), 8, 8 * 1024, 1024)
    assert cost.step_time_s(shape) > cost.shard_cost.step_time_s(shape)


def test_a_decode_reads_the_shard_weights_and_a_smaller_shard_decodes_faster():
    tp4, tp8 = (load_profile_cost_model(PROFILES[tp]) for tp in (4, 8))
    one = StepShape((), 1, 1024, 1024)
    for model in (tp4, tp8):
        assert model.step_time_s(one) > model.memory.weight_bytes / 4.8e12  # HBM datasheet floor
    assert tp8.step_time_s(one) < tp4.step_time_s(one)


@pytest.mark.parametrize("tp", [4, 8])
def test_depth_rows_hold_every_point_at_each_depth_and_the_stated_check(tp):
    rows, meta = _rows(tp), read_meta(resolve_profile_path(PROFILES[tp]))
    steps = read_steps(resolve_profile_path(PROFILES[tp]))
    assert [layers for layers, _ in rows] == [10, 20, FULL] * len(steps)
    assert steps == [record for layers, record in rows if layers == FULL]
    errors = np.abs(check_errors(rows, FULL))
    summary = meta["depth_scaling"]
    assert summary["check_points"] == len(steps) == len(errors)
    assert summary["check_mean_abs_error_pct"] == pytest.approx(errors.mean(), abs=1e-3)
    assert summary["check_worst_abs_error_pct"] == pytest.approx(errors.max(), abs=1e-3)


@pytest.mark.parametrize("tp", [4, 8])
def test_graph_replayed_decodes_scale_linearly_with_depth(tp):
    """Replayed graphs launch nothing per layer: a + b x layers holds to well under the step's noise."""
    rows = _rows(tp)
    graphed = np.array(["graph" in record.note for layers, record in rows if layers == FULL])
    errors = np.abs(check_errors(rows, FULL))[graphed]
    assert graphed.sum() >= 30
    assert errors.mean() < 1.5 and np.median(errors) < 1.0


@pytest.mark.parametrize("tp", [4, 8])
def test_fitted_per_layer_cost_times_80_plus_intercept_matches_full_depth(tp):
    """Fit the profile's form on the 10-layer and the 20-layer rows: per-layer cost (m20 - m10) / 10,
    intercept m10 - 10 x per-layer. At 80 layers that predicts the measured full-depth steps within
    the full-depth fit's own held-out error."""
    rows, meta = _rows(tp), read_meta(resolve_profile_path(PROFILES[tp]))
    form = meta["fit"]["form"]
    at = {depth: [record for layers, record in rows if layers == depth] for depth in (10, 20, FULL)}
    fitted = {depth: profile_fit.fit(profile_fit.record_features(at[depth]),
                                     np.array([r.wall_s for r in at[depth]]), form) for depth in (10, 20)}
    full = profile_fit.record_features(at[FULL])
    m10, m20 = (profile_fit.predict(fitted[depth], full) for depth in (10, 20))
    per_layer, intercept = (m20 - m10) / 10, m10 - 10 * (m20 - m10) / 10
    predicted = intercept + FULL * per_layer
    errors = 100 * np.abs(predicted / np.array([r.wall_s for r in at[FULL]]) - 1)
    assert (per_layer > 0).all()
    assert errors.mean() <= meta["fit"]["held_out"][form]["mean_ape_pct"]
