"""The settings schema: every scenario and serving field has a typed, ranged entry."""
from dataclasses import fields

import pytest

from batchsim.inputs import InputError
from batchsim.planning.scenario import Scenario, load_scenario, scenario_from_mapping, with_overrides
from batchsim.planning.schema import SECTIONS, SETTING_NAMES, validate
from batchsim.simulator.config import ServingConfig


def test_every_scenario_and_serving_field_is_in_the_schema_and_a_section():
    names = {f.name for f in fields(Scenario) if f.name != "serving"}
    names |= {f.name for f in fields(ServingConfig)}
    assert names <= set(SETTING_NAMES)
    in_sections = {setting for section in SECTIONS.values() for setting in section.values()}
    assert names - {"slo", "seed", "goodput"} <= in_sections


@pytest.mark.parametrize("values, message", [
    ({"max_num_seqs": True}, "max_num_seqs: expected an integer, got True"),
    ({"max_wait_s": float("nan")}, "max_wait_s: must be a finite number"),
    ({"gpu_memory_utilization": 1.5}, "gpu_memory_utilization: must be at most 1"),
    ({"replicas": 0}, "replicas: must be at least 1, got 0"),
    ({"policy": "fifo"}, "unknown policy 'fifo'"),
    ({"slo": "ttft=3"}, "needs a unit"),
    ({"trace_format": "csv"}, "unknown trace format 'csv'"),
])
def test_wrong_types_and_ranges_are_refused_by_key(values, message):
    with pytest.raises(InputError, match=message):
        validate(values)


def test_sections_and_flat_keys_give_the_same_scenario(tmp_path):
    flat = scenario_from_mapping({"policy": "static", "batch_size": 4, "gpu": "h100",
                                  "model": "llama-3-8b", "seed": 3})
    sectioned = scenario_from_mapping({"policy": {"name": "static", "batch_size": 4},
                                       "hardware": {"gpu": "h100"},
                                       "cost model": {"model": "llama-3-8b"}, "seed": 3})
    assert flat == sectioned
    assert flat.serving.batch_size == 4 and flat.seed == 3


def test_whole_numbers_are_accepted_where_seconds_are_asked(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("policy:\n  name: static\n  max_wait_s: 2\n")
    assert load_scenario(str(path)).serving.max_wait_s == 2.0


def test_the_default_scenario_holds_only_valid_settings():
    # with_overrides skips validating a value the scenario already holds: its defaults must pass
    scenario = Scenario()
    held = {f.name: getattr(scenario, f.name) for f in fields(Scenario) if f.name != "serving"}
    held |= {f.name: getattr(scenario.serving, f.name) for f in fields(ServingConfig)}
    validate({k: v for k, v in held.items() if v is not None and k in SETTING_NAMES})


@pytest.mark.parametrize("overrides, message", [
    ({"replicas": 0}, "replicas: must be at least 1"),
    ({"replicas": True}, "replicas: expected an integer"),  # equal to the default 1, not the same
    ({"trace_format": "auto", "policy": "fifo"}, "unknown policy 'fifo'"),
])
def test_overrides_that_change_a_value_are_validated(overrides, message):
    with pytest.raises(InputError, match=message):
        with_overrides(Scenario(), overrides)
    assert with_overrides(Scenario(), {"trace_format": "auto", "replicas": 1}) == Scenario()
