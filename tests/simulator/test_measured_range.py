"""How far a run went beyond its profile's measured range, from the steps table alone."""
import numpy as np
import pytest

from batchsim.policies import ContinuousPolicy
from batchsim.simulator.measured_range import (UNPROFILED, MeasuredRange, extrapolation,
                                               strict_range_error)
from tests.helpers import make_requests, run

RANGE = MeasuredRange("toy", {"tokens per step": 100, "decodes per step": 4,
                              "KV tokens per step": 1000, "context per decode": 200,
                              "prefill length": 300})


def steps_table(rows):
    names = ("steps", "prefill_tokens", "decode_seqs", "kv_tokens", "decode_context",
             "prefill_length")
    return {name: np.array([row[i] for row in rows], dtype=np.int64) for i, name in enumerate(names)}


def test_ratios_and_share_outside_counted_by_hand():
    table = steps_table([
        (1, 50, 0, 50, 0, 50),  # a prefill well inside
        # 10 decode steps of 4 sequences: contexts 195..204 (outside from the 7th step, 4
        # steps), KV 780..816
        (10, 0, 4, 780, 195, 0),
        (1, 120, 2, 500, 100, 400),  # 122 tokens (1.22x) and a 400-token prefill (1.33x)
    ])
    found = extrapolation(RANGE, table)
    assert (found.steps, found.steps_outside) == (12, 5)
    assert found.share_outside == pytest.approx(5 / 12)
    assert found.largest_ratio == pytest.approx({
        "tokens per step": 1.22, "decodes per step": 1.0, "KV tokens per step": 0.816,
        "context per decode": 204 / 200, "prefill length": 400 / 300})
    assert found.worst == ("prefill length", pytest.approx(4 / 3))
    entry = found.as_dict()
    assert entry["status"] == "extrapolated" and entry["worst_dimension"] == "prefill length"
    assert "prefill length 1.33x" in entry["description"]
    assert strict_range_error({"extrapolation": entry}) == (
        "--strict-range: run goes beyond profile toy's measured range: prefill length 1.33x "
        "(41.7% of steps)")


def test_inside_the_range_and_unprofiled_runs():
    inside = extrapolation(RANGE, steps_table([(5, 0, 4, 400, 150, 0)]))
    assert inside.worst is None and inside.steps_outside == 0
    assert inside.as_dict()["status"] == "within range"
    assert strict_range_error({"extrapolation": inside.as_dict()}) is None
    unprofiled = extrapolation(None, steps_table([(5, 0, 4, 400, 150, 0)])).as_dict()
    assert unprofiled["status"] == "unprofiled" and unprofiled["description"] == UNPROFILED
    assert strict_range_error({"extrapolation": unprofiled}) is None


def test_a_dimension_the_profile_never_measured_is_beyond_any_ratio():
    no_decodes = MeasuredRange("prefill-only", {**RANGE.limits, "decodes per step": 0,
                                                "context per decode": 0})
    entry = extrapolation(no_decodes, steps_table([(3, 0, 2, 10, 4, 0)])).as_dict()
    assert entry["steps_outside"] == 3 and entry["largest_ratio"]["decodes per step"] is None
    assert "beyond any measured value" in strict_range_error({"extrapolation": entry})


def test_the_simulator_records_each_steps_extent():
    # one 300-token prompt, 5 output tokens: a prefill of 300, then decodes whose contexts
    # (their new token included) are 301, 302, 303, 304
    requests = make_requests([300], [5], [0.0])
    result = run(requests, lambda: ContinuousPolicy(8, 4096))
    steps = result.recorder.steps
    assert steps["prefill_length"][0] == 300 and steps["kv_tokens"][0] == 300
    tight = MeasuredRange("tight", {**RANGE.limits, "tokens per step": 300,
                                    "context per decode": 302, "prefill length": 300})
    found = extrapolation(tight, steps)
    assert found.steps == 5 and found.steps_outside == 2
    assert found.largest_ratio["context per decode"] == pytest.approx(304 / 302)


def test_a_tensor_parallel_replica_is_checked_against_its_shards_range():
    from batchsim.planning.costs import build_cost_model
    from batchsim.simulator.profile_cost import load_profile_cost_model

    shard = load_profile_cost_model("h200-llama-3-70b-tp4-cuda-graph").measured_range
    assert build_cost_model("h200", "llama-3-70b", None, 4).measured_range == shard
    assert build_cost_model("h200", "llama-3-70b", "roofline", 4).measured_range is None
