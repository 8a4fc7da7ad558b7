"""The profile cost model's decode fast paths equal step_time_s; runs see the range as steps do."""
import numpy as np
import pytest

from batchsim.policies import ChunkedPrefillPolicy, ContinuousPolicy, StaticPolicy
from batchsim.simulator.measured_range import extrapolation
from batchsim.simulator.profile_cost import bundled_profiles, load_profile_cost_model
from batchsim.simulator.step import StepShape
from tests.helpers import make_requests, run


@pytest.mark.parametrize("name", bundled_profiles())
def test_decode_fast_paths_give_step_time(name):
    by_shape, by_numbers = load_profile_cost_model(name), load_profile_cost_model(name)
    rng = np.random.default_rng(11)
    for _ in range(40):
        # up to twice the profiled batch and context, so some steps are out of range
        limits = by_shape.measured_range.limits
        count = int(rng.integers(1, 2 * limits["decodes per step"]))
        context = int(rng.integers(1, 2 * limits["context per decode"]))
        steps = int(rng.integers(1, 60))
        total = count * context
        expected = [by_shape.step_time_s(StepShape((), count, total + j * count, context + j))
                    for j in range(steps)]
        assert list(by_numbers.decode_run_times_s(count, total, context, steps)) == expected
        assert [by_numbers.decode_step_time_s(count, total + j * count, context + j)
                for j in range(steps)] == expected


@pytest.mark.parametrize("make_policy", [lambda: StaticPolicy(6), lambda: ContinuousPolicy(40, 16384),
                                         lambda: ChunkedPrefillPolicy(40, 512)])
def test_runs_match_single_steps_with_a_profile(make_policy):
    # contexts up to 10k tokens pass the profiled 4k decode contexts: a run of decode steps in
    # one row of the steps table must count the steps outside exactly as single steps do
    rng = np.random.default_rng(4)
    n = 60
    prompts, outputs = rng.integers(1, 7000, n).tolist(), rng.integers(1, 3000, n).tolist()
    arrivals = rng.exponential(0.05, n).cumsum().tolist()
    results = []
    for max_run_steps in (1, None):
        cost = load_profile_cost_model("h200-llama-3-8b-cuda-graph")
        requests = make_requests(prompts, outputs, arrivals)
        result = run(requests, make_policy, cost, kv_blocks=20000, max_run_steps=max_run_steps)
        results.append((np.array([[r.first_token_s, r.finish_s] for r in requests]),
                        extrapolation(cost.measured_range, result.recorder.steps)))
    (stepped, range1), (jumped, range2) = results
    np.testing.assert_allclose(jumped, stepped, rtol=1e-9)
    assert range1.worst is not None and range1.steps_outside > 0
    assert (range2.steps, range2.steps_outside) == (range1.steps, range1.steps_outside)
    assert range2.largest_ratio == pytest.approx(range1.largest_ratio, rel=1e-12)
