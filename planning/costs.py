"""Choosing the cost model for a scenario: a GPU profile when one exists, else the roofline.

``profile`` may be a bundled profile name, a profile directory, a calibrated profile directory
(simulator.calibrated_cost: applied to the scenario's model and GPU), or ``roofline`` to force
the analytic model. With no profile given, a bundled profile for the same GPU and model is used
(CUDA-graph mode first: see simulator.profile_cost.MODE_PREFERENCE), or, for a run that states its
engine configuration (a recorded engine run), the bundled profile measured under that
configuration (``matching_profile``; simulator.engine_match says what must match).

The roofline, calibration and tensor-parallel modules are imported when a scenario needs them,
not by every replay (start-up, issue 16): a cost model of their classes exists only once its
module was imported, so the type checks below look the class up among the loaded modules.
"""
from __future__ import annotations

import sys

from batchsim.simulator import engine_match
from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.profile_cost import (bundled_profiles_for, default_profile_name, load_profile_cost_model,
                                             resolve_profile_path)
from batchsim.simulator.profile_format import read_meta
from batchsim.simulator.models import get_model

ROOFLINE = "roofline"


def build_cost_model(gpu: str, model: str, profile: str | None = None, tp: int = 1):
    """The cost model a scenario asks for; ValueError names what is unknown.

    With ``tp`` > 1 the profile (or roofline) prices one tensor-parallel shard and the
    all-reduce model adds the communication between the replica's GPUs.
    """
    if tp > 1:
        return _tensor_parallel(gpu, model, profile, tp)
    if profile and _is_calibration_dir(profile):
        return load_calibrated(profile, get_model(model), get_gpu(gpu))
    if profile and profile != ROOFLINE:
        return load_profile_cost_model(profile)
    if profile is None:
        profile = default_profile_name(gpu, model)
        if profile:
            return load_profile_cost_model(profile)
    from batchsim.simulator.roofline import RooflineCostModel

    return RooflineCostModel(get_model(model), get_gpu(gpu))


def _is_calibration_dir(profile: str) -> bool:
    from batchsim.simulator.calibrated_cost import is_calibration_dir

    return is_calibration_dir(profile)


def _loaded_class(module: str, name: str):
    """The class ``name`` of ``module`` if that module is loaded, else None (so no instance of
    it can exist)."""
    loaded = sys.modules.get(module)
    return getattr(loaded, name) if loaded is not None else None


def _is_roofline(cost_model) -> bool:
    roofline = _loaded_class("batchsim.simulator.roofline", "RooflineCostModel")
    return roofline is not None and isinstance(cost_model, roofline)


def _is_tensor_parallel(cost_model) -> bool:
    sharded = _loaded_class("batchsim.simulator.tensor_parallel", "TensorParallelCostModel")
    return sharded is not None and isinstance(cost_model, sharded)


def _tensor_parallel(gpu: str, model: str, profile: str | None, tp: int):
    from batchsim.simulator.roofline import RooflineCostModel
    from batchsim.simulator.tensor_parallel import AllReduceModel, TensorParallelCostModel, shard_spec

    spec, gpu_spec = get_model(model), get_gpu(gpu)
    if profile is None:
        profile = default_profile_name(gpu, model, tp)
    if profile and _is_calibration_dir(profile):
        shard = load_calibrated(profile, shard_spec(spec, tp), gpu_spec)
    elif profile and profile != ROOFLINE:
        shard = load_profile_cost_model(profile)
    else:
        shard = RooflineCostModel(shard_spec(spec, tp), gpu_spec)
    return TensorParallelCostModel(shard, spec, tp, AllReduceModel(gpu_spec.nvlink_bytes_per_s))


def load_calibrated(path: str, model, gpu):
    """A calibrated profile (a RooflineCostModel) applied to ``model`` on ``gpu`` (carried by
    the datasheet ratio)."""
    from batchsim.simulator.calibrated_cost import calibrated_cost_model, read_calibration

    meta, coefficients = read_calibration(path)
    return calibrated_cost_model(coefficients, model, gpu, str(meta.get("name") or path))


def is_profiled(cost_model) -> bool:
    """Whether steps are priced from measurements (a profile) rather than datasheet peaks alone."""
    if _is_tensor_parallel(cost_model):
        return is_profiled(cost_model.shard_cost)
    return not _is_roofline(cost_model)


def describe_cost_model(cost_model) -> str:
    """One line naming the cost model, for reports; a roofline says it is unprofiled."""
    if _is_roofline(cost_model) and cost_model.calibration:
        return (f"calibrated profile {cost_model.calibration} ({cost_model.model.name} on "
                f"{cost_model.gpu.name}: roofline at {cost_model.memory_efficiency:.2f} of datasheet "
                f"HBM and {cost_model.compute_efficiency:.2f} of FLOP/s, host "
                f"{cost_model.step_overhead_s * 1e3:.2f} ms + {cost_model.per_sequence_s * 1e6:.0f} us/seq "
                f"+ {cost_model.per_token_s * 1e6:.1f} us/token a step; no measured profile)")
    if _is_roofline(cost_model):
        return (f"roofline, UNPROFILED ({cost_model.model.name} on {cost_model.gpu.name}: "
                f"datasheet peaks, no measured profile)")
    if _is_tensor_parallel(cost_model):
        return (f"{describe_cost_model(cost_model.shard_cost)} + ring all-reduce over "
                f"{cost_model.tp} GPUs")
    name = getattr(cost_model, "name", type(cost_model).__name__)
    return f"profile {name}{_run_spread(getattr(cost_model, 'meta', None))}"


def _run_spread(meta) -> str:
    """For a profile timed from served runs, how far single runs strayed from its prices: the
    error bar of one run's prediction (a host-bound engine's speed differs between hosts)."""
    served = meta.get("served_from") if isinstance(meta, dict) else None
    ratios = (served or {}).get("price_ratio_per_run") or []
    if len(ratios) < 2:
        return ""
    return (f" (timed from {len(ratios)} served runs, which took {min(ratios):.2f}-{max(ratios):.2f}x "
            f"its step prices: one run can land anywhere in that spread)")


def cost_model_keys(cost_model) -> dict:
    """The keys every summary carries about its cost model (JSON, sweep rows)."""
    return {"cost_model": describe_cost_model(cost_model), "profiled": is_profiled(cost_model)}


def matching_profile(gpu, model, run: dict, modes: tuple[str, ...], tp: int = 1) -> str | None:
    """The bundled profile for this GPU and model (shard), in one of ``modes``, measured under the
    engine configuration ``run`` states; None when none of those modes is bundled, ValueError
    naming the settings that differ when some are but none matches."""
    candidates = bundled_profiles_for(gpu, model, tp, modes)
    if not candidates:
        return None
    metas = {name: read_meta(resolve_profile_path(name)) for name in candidates}
    # a profile timed from served steps prices the engine as it runs under load; an isolated grid
    # point can land in one of a host-bound engine's modes (planning/served_steps.py): prefer it
    candidates.sort(key=lambda name: "served_from" not in metas[name])
    differences = {}
    for name in candidates:
        differences[name] = engine_match.mismatches(engine_match.profile_settings(metas[name]), run)
        if not differences[name]:
            return name
    closest = min(candidates, key=lambda name: len(differences[name]))
    raise ValueError(f"no bundled profile matches this run's engine configuration (closest, {closest}: "
                     f"{'; '.join(differences[closest])}); profile it, or pass --profile NAME with "
                     f"--allow-profile-mismatch")


def profile_mismatch(cost_model, run: dict) -> list[str]:
    """Settings in which the run's engine configuration differs from its profile's (none for the
    roofline, which states no engine)."""
    meta = getattr(cost_model, "meta", None)
    if meta is None and hasattr(cost_model, "shard_cost"):
        meta = getattr(cost_model.shard_cost, "meta", None)
    if not isinstance(meta, dict):
        return []
    return engine_match.mismatches(engine_match.profile_settings(meta), run)
