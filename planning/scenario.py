"""A scenario: a trace, a GPU and model (or profile), serving knobs, and a seed.

Scenarios load from flat YAML files whose keys are the scenario's and the serving config's field
names; command-line flags override them. ``run_scenario`` builds the cost model, the policies
and the replicas, replays the trace and returns the result with its summary.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import yaml

from batchsim.planning.costs import build_cost_model, cost_model_keys
from batchsim.policies import policy_class
from batchsim.simulator.config import SERVING_FIELDS, ServingConfig
from batchsim.simulator.models import get_model
from batchsim.simulator.simulation import ReplicaSetup, SimulationResult, simulate
from batchsim.simulator.summary import Slo, summarize
from batchsim.simulator.workload import requests_from_table


@dataclass(frozen=True)
class Scenario:
    """Everything that determines one simulation run."""

    trace: str | None = None  # None: the bundled default trace
    trace_format: str = "auto"
    gpu: str = "h200"
    model: str = "llama-3-8b"
    profile: str | None = None
    seed: int = 0
    slo: str | None = None
    serving: ServingConfig = field(default_factory=ServingConfig)


SCENARIO_FIELDS = tuple(f.name for f in fields(Scenario) if f.name != "serving")


def scenario_from_mapping(values: dict, source: str = "scenario") -> Scenario:
    """Build a Scenario from flat keys; unknown keys are errors naming the source."""
    scenario_values, serving_values = {}, {}
    for key, value in values.items():
        if key in SCENARIO_FIELDS:
            scenario_values[key] = value
        elif key in SERVING_FIELDS:
            serving_values[key] = value
        else:
            known = ", ".join(SCENARIO_FIELDS + SERVING_FIELDS)
            raise ValueError(f"{source}: unknown key '{key}' (known: {known})")
    try:
        return Scenario(**scenario_values, serving=ServingConfig(**serving_values))
    except TypeError as error:
        raise ValueError(f"{source}: {error}") from None


def load_scenario(path: str) -> Scenario:
    """Read a YAML scenario file (safe loader)."""
    text = Path(path).read_text()
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ValueError(f"{path}{where}: not valid YAML") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: a scenario is a mapping of settings")
    return scenario_from_mapping(values, path)


def with_overrides(scenario: Scenario, overrides: dict) -> Scenario:
    """A copy with scenario or serving fields replaced (None values ignored)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    top = {k: v for k, v in overrides.items() if k in SCENARIO_FIELDS}
    serving = {k: v for k, v in overrides.items() if k in SERVING_FIELDS}
    unknown = set(overrides) - set(top) - set(serving)
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    return replace(scenario, **top, serving=replace(scenario.serving, **serving))


@dataclass
class ScenarioRun:
    """A finished simulation with what it was run with."""

    scenario: Scenario
    serving: ServingConfig  # resolved knobs
    cost_model: object
    result: SimulationResult
    summary: dict


@dataclass
class Prepared:
    """A scenario's resolved knobs, cost model and replica setup, ready to simulate."""

    scenario: Scenario
    serving: ServingConfig  # resolved knobs
    cost_model: object
    setup: ReplicaSetup


def prepare(scenario: Scenario, cost_model=None) -> Prepared:
    """Resolve knobs, build (or reuse) the cost model and the replica setup; validate once."""
    cost_model = cost_model or build_cost_model(scenario.gpu, scenario.model, scenario.profile,
                                                scenario.serving.tensor_parallel_size)
    model_max_len = _max_context(scenario.model, cost_model.model)
    serving = scenario.serving.resolved(model_max_len)
    cls = policy_class(serving.policy)
    cls.from_config(serving)  # validate knobs once, before any replica exists
    kv_blocks = serving.kv_blocks or cost_model.memory.kv_capacity_blocks(
        serving.block_size, serving.gpu_memory_utilization)
    if kv_blocks < 1:
        memory = cost_model.memory
        raise ValueError(f"no room for a KV cache: weights {memory.weight_bytes / 1e9:.1f} GB in "
                         f"{memory.gpu_memory_bytes * serving.gpu_memory_utilization / 1e9:.1f} GB "
                         f"usable; use more GPUs per replica or a larger gpu_memory_utilization")
    setup = ReplicaSetup(
        make_policy=lambda: cls.from_config(serving), cost_model=cost_model,
        kv_blocks=kv_blocks, block_size=serving.block_size,
        watermark_blocks=int(serving.watermark * kv_blocks),
        max_model_len=serving.max_model_len,
        swap_preemption=serving.preemption_mode == "swap")
    return Prepared(scenario, serving, cost_model, setup)


def _max_context(model: str, priced) -> int:
    """The scenario's model's maximum context when the cost model prices that same shape (a
    Llama-3.1-8B config on a Llama-3-8B profile), else the priced model's."""
    try:
        named = get_model(model)
    except ValueError:
        return priced.max_position_embeddings
    same = named.cost_shape == priced.cost_shape
    return named.max_position_embeddings if same else priced.max_position_embeddings


def scenario_keys(prepared: Prepared) -> dict:
    """The keys run_scenario adds to every summary."""
    serving = prepared.serving
    scenario = prepared.scenario
    return dict(policy=serving.policy, gpu=getattr(scenario.gpu, "name", scenario.gpu),
                model=getattr(scenario.model, "name", scenario.model),
                tensor_parallel_size=serving.tensor_parallel_size,
                gpus=serving.replicas * serving.tensor_parallel_size,
                **cost_model_keys(prepared.cost_model))


def run_scenario(scenario: Scenario, table, cost_model=None, **summary_options) -> ScenarioRun:
    """Replay ``table`` (canonical trace) under ``scenario``; ``summary_options`` (percentiles,
    percentile_metrics) go to ``summarize``."""
    prepared = prepare(scenario, cost_model)
    serving = prepared.serving
    result = simulate(requests_from_table(table), prepared.setup, serving.replicas, serving.router)
    summary = summarize(result, Slo.parse(scenario.slo), **summary_options)
    summary.update(scenario_keys(prepared))
    return ScenarioRun(scenario, serving, prepared.cost_model, result, summary)
