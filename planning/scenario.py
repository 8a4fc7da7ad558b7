"""A scenario: a trace, a GPU and model (or profile), serving knobs, and a seed.

Scenarios load from YAML files, in sections or flat (see planning.schema, which validates every
value's type, range and unit); command-line flags override them. ``run_scenario`` builds the cost model, the policies
and the replicas, replays the trace and returns the result with its summary.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from batchsim.inputs import InputError
from batchsim.limits import DEFAULT_LIMITS, Limits
from batchsim.planning.costs import build_cost_model, cost_model_keys, describe_cost_model, profile_mismatch
from batchsim.planning.slo import scenario_slo
from batchsim.policies import policy_class
from batchsim.simulator.config import SERVING_FIELDS, ServingConfig
from batchsim.simulator.measured_range import Extrapolation, extrapolation, measured_range_of
from batchsim.simulator.models import get_model
from batchsim.simulator.simulation import ReplicaSetup, SimulationResult, simulate
from batchsim.simulator.step_spread import SampledStepTimes, spread_of
from batchsim.simulator.summary import summarize
from batchsim.simulator.metrics import Recorder
from batchsim.simulator.workload import table_prefix_block_tokens, trace_from_table


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
    goodput: str | None = None  # vLLM's spelling: "ttft:2000 tpot:100" (milliseconds)
    step_time: str = "mean"  # mean: each step at the cost model's mean; sampled: drawn from the profile's spread
    engine: dict | None = None  # engine settings the run states (simulator.engine_match.SETTINGS)
    allow_profile_mismatch: bool = False  # run on a profile of another engine configuration, and say so
    serving: ServingConfig = field(default_factory=ServingConfig)


SCENARIO_FIELDS = tuple(f.name for f in fields(Scenario) if f.name != "serving")


def scenario_from_settings(settings: Settings) -> Scenario:
    """The Scenario of validated settings (settings a scenario does not hold are ignored)."""
    from batchsim.planning.schema import given

    values = given(settings)
    top = {k: v for k, v in values.items() if k in SCENARIO_FIELDS}
    serving = {k: v for k, v in values.items() if k in SERVING_FIELDS}
    return Scenario(**top, serving=ServingConfig(**serving))


def scenario_from_mapping(values: dict, source: str = "scenario") -> Scenario:
    """Build a Scenario from sectioned or flat keys; errors name the source and key."""
    from batchsim.planning.schema import flatten, validate

    flat, _ = flatten(values, source, {})
    return scenario_from_settings(validate(flat, lambda key: f"{source}: {key}"))


def load_scenario(path: str) -> Scenario:
    """Read a YAML scenario file (safe loader; paths relative to the file)."""
    from batchsim.planning.schema import load_settings

    return scenario_from_settings(load_settings(path))


def with_overrides(scenario: Scenario, overrides: dict) -> Scenario:
    """A copy with scenario or serving fields replaced (None values ignored), each change
    validated. A value the scenario already holds (same type, equal) is not a change: the
    scenario's values are its defaults or were validated when set, and skipping them keeps the
    settings schema (pydantic, a sixth of a short replay's start-up) out of a default replay."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    top = {k: v for k, v in overrides.items() if k in SCENARIO_FIELDS}
    serving = {k: v for k, v in overrides.items() if k in SERVING_FIELDS}
    unknown = set(overrides) - set(top) - set(serving)
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    changed = {k: v for k, v in top.items() if not _same(v, getattr(scenario, k))}
    changed.update((k, v) for k, v in serving.items() if not _same(v, getattr(scenario.serving, k)))
    if changed:
        from batchsim.planning.schema import SETTING_NAMES, validate

        validate({k: v for k, v in changed.items() if k in SETTING_NAMES})
    return replace(scenario, **top, serving=replace(scenario.serving, **serving))


def _same(value, held) -> bool:
    return type(value) is type(held) and value == held


def check_knobs_apply(scenario: Scenario, given_names) -> None:
    """Refuse knobs given with a policy named that ignores them (static batching has no
    max_num_seqs; continuous and chunked have no batch_size or max_wait_s). Without a policy
    named (a sweep's policy axis, plan --policy all) knobs may serve any of them."""
    if "policy" not in given_names:
        return
    policy = scenario.serving.policy
    ignored = {"max_num_seqs", "max_num_batched_tokens"} if policy == "static" else \
        {"batch_size", "max_wait_s"}
    wrong = sorted(ignored & set(given_names))
    if wrong:
        raise InputError(f"{', '.join(wrong)}: does not apply to the {policy} policy "
                         f"(static: batch_size, max_wait_s; continuous and chunked: "
                         f"max_num_seqs, max_num_batched_tokens)")


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
    profile_mismatch: list = field(default_factory=list)  # settings the profile was measured differently


def prepare(scenario: Scenario, cost_model=None,
            prefix_block_tokens: int | None = None) -> Prepared:
    """Resolve knobs, build (or reuse) the cost model and the replica setup; validate once."""
    cost_model = cost_model or build_cost_model(scenario.gpu, scenario.model, scenario.profile,
                                                scenario.serving.tensor_parallel_size)
    cost_model = with_step_times(cost_model, scenario.step_time, scenario.seed)
    model_max_len = _max_context(scenario.model, cost_model.model)
    asked = scenario.serving.max_model_len
    if asked is not None and asked > model_max_len:
        raise InputError(f"max_model_len: {asked:,} is above {cost_model.model.name}'s context "
                         f"of {model_max_len:,} tokens")
    serving = scenario.serving.resolved(model_max_len)
    mismatch = profile_mismatch(cost_model, run_settings(scenario, serving))
    if mismatch and not scenario.allow_profile_mismatch:
        name = getattr(cost_model, "name", None) or describe_cost_model(cost_model).removeprefix("profile ")
        raise ValueError(f"profile {name} was measured under "
                         f"another engine configuration ({'; '.join(mismatch)}); pass --allow-profile-mismatch "
                         f"to run anyway")
    cls = policy_class(serving.policy)
    cls.from_config(serving)  # validate knobs once, before any replica exists
    kv_blocks = serving.kv_blocks or cost_model.memory.kv_capacity_blocks(
        serving.block_size, serving.gpu_memory_utilization)
    if kv_blocks < 1:
        memory = cost_model.memory
        block_bytes = serving.block_size * memory.kv_bytes_per_token
        if cost_model.memory.kv_capacity_blocks(1, serving.gpu_memory_utilization) >= 1:
            raise ValueError(f"block_size: one block of {serving.block_size:,} tokens needs "
                             f"{block_bytes / 1e9:.1f} GB, more than the memory left for the KV "
                             "cache; use a smaller block_size")
        raise ValueError(f"no room for a KV cache: weights {memory.weight_bytes / 1e9:.1f} GB in "
                         f"{memory.gpu_memory_bytes * serving.gpu_memory_utilization / 1e9:.1f} GB "
                         f"usable; use more GPUs per replica or a larger gpu_memory_utilization")
    setup = ReplicaSetup(
        make_policy=lambda: cls.from_config(serving), cost_model=cost_model,
        kv_blocks=kv_blocks, block_size=serving.block_size,
        watermark_blocks=int(serving.watermark * kv_blocks),
        max_model_len=serving.max_model_len,
        swap_preemption=serving.preemption_mode == "swap",
        prefix_caching=bool(serving.enable_prefix_caching),
        prefix_block_tokens=prefix_block_tokens)
    return Prepared(scenario, serving, cost_model, setup, mismatch)


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
                **cost_model_keys(prepared.cost_model),
                step_time=step_time_mode(prepared.cost_model),
                profile_mismatch=list(prepared.profile_mismatch))


def run_settings(scenario: Scenario, serving: ServingConfig) -> dict:
    """The engine configuration a scenario states (``serving`` resolved): its token budget and
    block size, and whatever engine settings it names (a recorded run names them all)."""
    settings = {"block_size": serving.block_size}
    if serving.policy != "static" and serving.max_num_batched_tokens:
        settings["max_batch_tokens"] = serving.max_num_batched_tokens
    return {**settings, **(scenario.engine or {})}


STEP_TIME_MODES = ("mean", "sampled")


def with_step_times(cost_model, mode: str, seed: int):
    """The cost model priced as ``mode`` says: as it is (mean), or drawn from its profile's spread."""
    if mode not in STEP_TIME_MODES:
        raise ValueError(f"step_time '{mode}' is not one of {', '.join(STEP_TIME_MODES)}")
    if mode == "mean" or isinstance(cost_model, SampledStepTimes):
        return cost_model
    spread = spread_of(cost_model)
    if spread is None:
        raise ValueError(f"step_time sampled needs a profile that kept every repeat of its steps; "
                         f"{describe_cost_model(cost_model)} has none")
    return SampledStepTimes(cost_model, spread, seed)


def step_time_mode(cost_model) -> str:
    """How the run priced its steps, in words (every report carries it)."""
    if isinstance(cost_model, SampledStepTimes):
        chain = cost_model.spread.describe()
        return (f"sampled (seed {cost_model.seed}): two-state chain fitted to the profile's repeats, "
                f"slow steps {chain['slow_excess_ms'] - chain['fast_excess_ms']:+.0f} ms, "
                f"{100 * chain['slow_share']:.0f}% of steps, in streaks of {chain['mean_slow_streak_steps']:.1f}")
    return "mean (each step at the cost model's mean time)"


def extrapolation_entry(cost_model, result: SimulationResult) -> dict:
    """The summary's ``extrapolation`` entry: how far the run's steps left the measured range
    (over the chunks of a streamed run, see ``watch_extrapolation``)."""
    measured = measured_range_of(cost_model)
    parts = result.recorder.step_fold_results(
        "extrapolation", lambda steps: extrapolation(measured, steps))
    if len(parts) == 1:
        return parts[0].as_dict()
    ratios: dict = {}
    for part in parts:
        for name, ratio in part.largest_ratio.items():
            ratios[name] = max(ratios.get(name, 0.0), ratio)
    return Extrapolation(parts[0].profile, sum(p.steps for p in parts),
                         sum(p.steps_outside for p in parts), ratios).as_dict()


def watch_extrapolation(cost_model, recorder: Recorder) -> None:
    """Have ``recorder`` fold each streamed chunk of steps for ``extrapolation_entry``."""
    measured = measured_range_of(cost_model)
    recorder.step_folds["extrapolation"] = lambda steps: extrapolation(measured, steps)


def run_scenario(scenario: Scenario, table, cost_model=None, limits: Limits = DEFAULT_LIMITS,
                 sink=None, keep_requests: bool | None = None, on_routed=None,
                 **summary_options) -> ScenarioRun:
    """Replay ``table`` (canonical trace) under ``scenario``.

    ``summary_options`` (percentiles, percentile_metrics) go to ``summarize``, ``on_routed`` to
    ``simulate`` (progress). ``sink`` (an ``export.OutputSink``) receives request and step rows
    as the run goes; ``keep_requests`` overrides the Recorder's choice between keeping and
    streaming.
    """
    prepared = prepare(scenario, cost_model, table_prefix_block_tokens(table))
    serving = prepared.serving
    trace = trace_from_table(table)
    limits.check("requests_per_replica", len(trace) / serving.replicas, "requests per replica")
    slo = scenario_slo(scenario.slo, scenario.goodput)
    recorder = Recorder(trace, keep_requests, sink, slo)
    watch_extrapolation(prepared.cost_model, recorder)
    result = simulate(trace, prepared.setup, serving.replicas, serving.router, recorder=recorder,
                      on_routed=on_routed)
    summary = summarize(result, slo, **summary_options)
    summary.update(scenario_keys(prepared))
    summary["extrapolation"] = extrapolation_entry(prepared.cost_model, result)
    return ScenarioRun(scenario, serving, prepared.cost_model, result, summary)
