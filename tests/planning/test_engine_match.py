"""Engine-matched profiles: a run is priced only by a profile measured under its engine configuration."""
import pytest

from batchsim.planning.records import Record, observed_run
from batchsim.planning.validate import compare, scenario_for
from batchsim.simulator.engine_match import mismatches, profile_settings, record_settings
from tests.planning.test_validate import lone_request_record


def engine_record(**config):
    data = lone_request_record([10, 20], [3, 2])
    data["engine_config"].update({"block_size": 256, "max_batch_tokens": 512, **config})
    return data


def test_graphs_as_the_engine_reports_them_pick_the_graphs_profile():
    # graphs off: the profile timed from served steps (512- and 2048-token budgets) comes first
    assert scenario_for(observed_run(Record(engine_record(), "x"))).profile == "h200-llama-3-8b-engine-served"
    # a budget no served run had: the isolated grid, timed up to the engine's default 8192
    wide = observed_run(Record(engine_record(max_batch_tokens=8192), "x"))
    assert scenario_for(wide).profile == "h200-llama-3-8b-engine"
    for reported in (True, [True, True]):
        run = observed_run(Record(engine_record(use_cuda_graph=reported), "x"))
        assert scenario_for(run).profile == "h200-llama-3-8b-engine-graphs"


def test_a_run_no_profile_matches_stops_naming_the_settings():
    run = observed_run(Record(engine_record(use_cuda_graph=[False, True]), "x"))
    with pytest.raises(ValueError, match="cuda_graph_decode: run true, profile false"):
        scenario_for(run)


def test_an_explicit_mismatched_profile_runs_only_when_allowed_and_says_so():
    record = Record(engine_record(use_cuda_graph=True), "x")
    with pytest.raises(ValueError, match="cuda_graph_varlen: run true, profile false"):
        compare(record, profile="h200-llama-3-8b-engine")
    comparison = compare(record, profile="h200-llama-3-8b-engine", allow_profile_mismatch=True)
    assert comparison.run.summary["profile_mismatch"] == [
        "cuda_graph_varlen: run true, profile false", "cuda_graph_decode: run true, profile false"]
    assert all(row["profile_mismatch"] for row in comparison.rows())


def test_token_budget_matches_up_to_the_largest_profiled():
    profile = {"mode": "engine", "engine": {"use_cuda_graph": [False, False], "block_size": 256,
                                            "max_batch_tokens": 8192, "max_batch_tokens_profiled": [512, 8192]}}
    settings = profile_settings(profile)
    assert mismatches(settings, record_settings("hf_cb", {"max_batch_tokens": 2048, "block_size": 256})) == []
    assert mismatches(settings, record_settings("hf_cb", {"max_batch_tokens": 16384})) == [
        "max_batch_tokens: run 16384, profile 512/8192"]
    assert mismatches(settings, record_settings("hf_cb", {"block_size": 16})) == ["block_size: run 16, profile 256"]
    # a static-batching run and our own CUDA-graph runner state no engine settings beyond the engine
    assert mismatches(profile_settings({"mode": "cuda-graph"}), {"block_size": 16, "max_batch_tokens": 99999}) == []


def test_a_scenario_file_states_engine_settings_and_the_step_time_mode():
    from batchsim.inputs import InputError
    from batchsim.planning.scenario import scenario_from_mapping

    scenario = scenario_from_mapping({"cost_model": {"step_time": "sampled", "engine": {"cuda_graph_decode": True},
                                                   "allow_profile_mismatch": True}})
    assert (scenario.step_time, scenario.engine, scenario.allow_profile_mismatch) == (
        "sampled", {"cuda_graph_decode": True}, True)
    with pytest.raises(InputError, match="unknown engine setting"):
        scenario_from_mapping({"cost_model": {"engine": {"graphs": True}}})
