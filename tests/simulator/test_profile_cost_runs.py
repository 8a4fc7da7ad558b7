"""The profile cost model's decode fast paths equal step_time_s, range notes included."""
import numpy as np
import pytest

from batchsim.policies import ChunkedPrefillPolicy, ContinuousPolicy, StaticPolicy
from batchsim.simulator.profile_cost import bundled_profiles, load_profile_cost_model
from batchsim.simulator.step import StepShape
from tests.helpers import make_requests, run


@pytest.mark.parametrize("name", bundled_profiles())
def test_decode_fast_paths_give_step_time_and_the_same_range_notes(name):
    by_shape, by_numbers = load_profile_cost_model(name), load_profile_cost_model(name)
    rng = np.random.default_rng(11)
    for _ in range(40):
        # up to twice the profiled batch and context, so some steps are out of range
        count = int(rng.integers(1, 2 * by_shape.limits["decodes per step"]))
        context = int(rng.integers(1, 2 * by_shape.limits["context per sequence"]))
        steps = int(rng.integers(1, 60))
        total = count * context
        expected = [by_shape.step_time_s(StepShape((), count, total + j * count, context + j))
                    for j in range(steps)]
        assert list(by_numbers.decode_run_times_s(count, total, context, steps)) == expected
        assert [by_numbers.decode_step_time_s(count, total + j * count, context + j)
                for j in range(steps)] == expected
    assert by_numbers.range_warnings() == by_shape.range_warnings()
    assert by_shape.range_warnings()  # the draw did leave the profiled range


@pytest.mark.parametrize("make_policy", [lambda: StaticPolicy(6), lambda: ContinuousPolicy(40, 16384),
                                         lambda: ChunkedPrefillPolicy(40, 512)])
def test_runs_match_single_steps_with_a_profile(make_policy):
    # contexts up to 10k tokens pass the profiled 8k, so range notes are taken on the way
    rng = np.random.default_rng(4)
    n = 60
    prompts, outputs = rng.integers(1, 7000, n).tolist(), rng.integers(1, 3000, n).tolist()
    arrivals = rng.exponential(0.05, n).cumsum().tolist()
    results = []
    for max_run_steps in (1, None):
        cost = load_profile_cost_model("h200-llama-3-8b-cuda-graph")
        requests = make_requests(prompts, outputs, arrivals)
        run(requests, make_policy, cost, kv_blocks=20000, max_run_steps=max_run_steps)
        results.append((np.array([[r.first_token_s, r.finish_s] for r in requests]),
                        cost.range_warnings()))
    (stepped, notes1), (jumped, notes2) = results
    np.testing.assert_allclose(jumped, stepped, rtol=1e-9)
    assert notes1 and notes1 == notes2
