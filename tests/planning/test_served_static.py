"""Served steps of static batching (planning/served_static.py) and the per-run price ratios a
served profile keeps (planning/served_profile.run_price_ratios)."""
import json
from pathlib import Path

from batchsim.planning.served_profile import build_served_profile
from batchsim.planning.served_static import served_static_steps
from batchsim.simulator.profile_cost import resolve_profile_path
from batchsim.simulator.profile_format import read_meta

EAGER = resolve_profile_path("h200-llama-3-8b-eager")
RECORDS = Path(__file__).resolve().parents[2] / "records"


def static_run(scale=1.0, steps=3):
    """Two rows of prompts 5 and 3 tokens, outputs ``steps`` and 2, dispatched at 0.4 s; step ends
    every 0.1 s and then 0.15 s from 1.0 s (times multiplied by ``scale``)."""
    ends = [1.0 + 0.1 * k + 0.05 * max(0, k - 1) for k in range(steps)]
    ends = [scale * t for t in ends]
    model = json.loads((RECORDS / "static_conv_b8.json").read_text())["model_config"]
    return {"case": f"tiny{scale}", "engine": "hf_static", "engine_config": {"batch_size": 8},
            "model_config": model, "gpu": "NVIDIA H200", "torch": "t", "transformers": "x",
            "requests": [{"i": 0, "in": 5, "out": steps, "token_times": ends},
                         {"i": 1, "in": 3, "out": 2, "token_times": ends[:2]}],
            "batches": [{"dispatch": 0.4 * scale, "first_token": ends[0], "end": ends[-1], "size": 2,
                         "max_in": 5, "steps": steps, "requests": [0, 1]}]}


def test_a_batch_gives_its_padded_prefill_and_each_decode_step():
    served = served_static_steps(static_run())
    assert served.logged == 3 and not served.skipped
    prefill, first, second = served.steps
    # both rows padded to the longest prompt; timed from dispatch to the first token
    assert prefill.prefill_chunks == ((5, 0), (5, 0)) and abs(prefill.wall_s - 0.6) < 1e-12
    # decode k attends over the padded prompt and k - 1 generated tokens, in every row
    assert (first.decode_count, first.decode_context_sum, first.decode_context_max) == (2, 10, 5)
    assert (second.decode_count, second.decode_context_sum, second.decode_context_max) == (2, 12, 6)
    assert abs(first.wall_s - 0.1) < 1e-12 and abs(second.wall_s - 0.15) < 1e-12


def test_a_batch_whose_log_disagrees_with_its_members_is_left_out_and_counted():
    run = static_run()
    run["batches"][0]["steps"] = 4  # the longest member holds 3 token times
    served = served_static_steps(run)
    assert served.steps == [] and served.skipped == {"step count differs from the members' token times": 4}


def test_a_run_twice_as_slow_on_the_same_steps_has_twice_the_price_ratio(tmp_path):
    runs = [(f"r{k}", static_run(scale, steps=12)) for k, scale in enumerate((1.0, 2.0))]
    build_served_profile(EAGER, runs, tmp_path / "p")
    first, second = read_meta(tmp_path / "p")["served_from"]["price_ratio_per_run"]
    # the same compositions get the same prices, so the ratios differ by the time scale alone
    assert abs(second / first - 2.0) < 0.002


def test_reports_name_the_spread_of_the_runs_behind_a_served_profile(tmp_path):
    from batchsim.planning.costs import describe_cost_model
    from batchsim.simulator.profile_cost import load_profile_cost_model

    runs = [(f"r{k}", static_run(scale, steps=12)) for k, scale in enumerate((1.0, 2.0))]
    build_served_profile(EAGER, runs, tmp_path / "p")
    low, high = read_meta(tmp_path / "p")["served_from"]["price_ratio_per_run"]
    line = describe_cost_model(load_profile_cost_model(str(tmp_path / "p")))
    assert f"timed from 2 served runs, which took {low:.2f}-{high:.2f}x its step prices" in line


def test_a_broken_batch_log_is_named():
    import pytest

    run = static_run()
    del run["batches"][0]["steps"]
    with pytest.raises(ValueError, match=r"batches\[0\]\.steps: missing"):
        served_static_steps(run)
    run = static_run()
    run["batches"][0]["size"] = "2"
    with pytest.raises(ValueError, match=r"batches\[0\]\.size: must be int"):
        served_static_steps(run)
