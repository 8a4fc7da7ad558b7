"""Decode runs priced from three steps agree with step-by-step pricing, or fall back to it."""
import pickle

import numpy as np
import pytest

from planning.costs import build_cost_model
from planning.fast_runs import AffineDecodeRuns, with_fast_runs
from simulator.cost import MemoryFacts
from simulator.step import StepShape
from simulator.tensor_parallel import TensorParallelCostModel


def step_by_step(model, count, context_sum, context_max, steps):
    return np.array([model.step_time_s(StepShape((), count, context_sum + j * count,
                                                 context_max + j)) for j in range(steps)])


@pytest.mark.parametrize("count, context_sum, context_max, steps", [
    (1, 500, 500, 2), (8, 8000, 2000, 300), (64, 300_000, 9000, 1000), (250, 10, 1, 17)])
def test_profile_runs_match_step_by_step(count, context_sum, context_max, steps):
    profile = build_cost_model("h200", "llama-3-8b")  # the bundled fitted profile
    assert not hasattr(profile, "decode_run_times_s")
    fast = with_fast_runs(profile).decode_run_times_s(count, context_sum, context_max, steps)
    np.testing.assert_allclose(fast, step_by_step(profile, count, context_sum, context_max,
                                                  steps), rtol=1e-12)


class Curved:
    """A made-up model whose decode time is not affine in the context: must not be extrapolated."""

    memory = MemoryFacts(10**12, 0, 1)

    def step_time_s(self, shape):
        return 0.01 + 1e-12 * shape.decode_context_sum ** 2


def test_non_affine_models_are_priced_step_by_step():
    fast = with_fast_runs(Curved()).decode_run_times_s(4, 1000, 300, 50)
    assert list(fast) == list(step_by_step(Curved(), 4, 1000, 300, 50))


def test_wrapping_keeps_the_model_and_survives_pickling():
    profile = build_cost_model("h200", "llama-3-8b")
    fast = with_fast_runs(profile)
    assert isinstance(fast, AffineDecodeRuns) and fast.memory is profile.memory
    assert fast.name == profile.name and with_fast_runs(fast) is fast
    copy = pickle.loads(pickle.dumps(fast))
    shape = StepShape(((512, 0),), 3, 900, 400)
    assert copy.step_time_s(shape) == profile.step_time_s(shape)
    roofline = build_cost_model("h200", "llama-3-8b", "roofline")
    assert with_fast_runs(roofline) is roofline  # already vectorized


def test_tensor_parallel_profile_shards_get_fast_runs():
    profile = build_cost_model("h200", "llama-3-8b")
    tp = build_cost_model("h200", "llama-3-8b", "roofline", 2)
    with_profile_shard = TensorParallelCostModel(profile, tp.model, 2, tp.allreduce)
    fast = with_fast_runs(with_profile_shard)
    assert isinstance(fast.shard_cost, AffineDecodeRuns)
    np.testing.assert_allclose(fast.decode_run_times_s(16, 16000, 1500, 200),
                               step_by_step(with_profile_shard, 16, 16000, 1500, 200), rtol=1e-12)
