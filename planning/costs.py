"""Choosing the cost model for a scenario: a GPU profile when one exists, else the roofline.

``profile`` may be a bundled profile name, a profile directory, or ``roofline`` to force the
analytic model. With no profile given, a bundled profile for the same GPU and model is used
(CUDA-graph mode first: see simulator.profile_cost.MODE_PREFERENCE), or, for a run that states its
engine configuration (a recorded engine run), the bundled profile measured under that
configuration (``matching_profile``; simulator.engine_match says what must match).
"""
from __future__ import annotations

from batchsim.simulator import engine_match
from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.profile_cost import (bundled_profiles, default_profile_name, load_profile_cost_model,
                                             resolve_profile_path)
from batchsim.simulator.profile_format import read_meta
from batchsim.simulator.models import get_model
from batchsim.simulator.roofline import RooflineCostModel
from batchsim.simulator.tensor_parallel import AllReduceModel, TensorParallelCostModel, shard_spec

ROOFLINE = "roofline"


def build_cost_model(gpu: str, model: str, profile: str | None = None, tp: int = 1):
    """The cost model a scenario asks for; ValueError names what is unknown.

    With ``tp`` > 1 the profile (or roofline) prices one tensor-parallel shard and the
    all-reduce model adds the communication between the replica's GPUs.
    """
    if tp > 1:
        return _tensor_parallel(gpu, model, profile, tp)
    if profile and profile != ROOFLINE:
        return load_profile_cost_model(profile)
    if profile is None:
        profile = default_profile_name(gpu, model)
        if profile:
            return load_profile_cost_model(profile)
    return RooflineCostModel(get_model(model), get_gpu(gpu))


def _tensor_parallel(gpu: str, model: str, profile: str | None, tp: int):
    spec, gpu_spec = get_model(model), get_gpu(gpu)
    if profile is None:
        profile = default_profile_name(gpu, model, tp)
    if profile and profile != ROOFLINE:
        shard = load_profile_cost_model(profile)
    else:
        shard = RooflineCostModel(shard_spec(spec, tp), gpu_spec)
    return TensorParallelCostModel(shard, spec, tp, AllReduceModel(gpu_spec.nvlink_bytes_per_s))


def describe_cost_model(cost_model) -> str:
    """One line naming the cost model, for reports."""
    if isinstance(cost_model, RooflineCostModel):
        return f"roofline ({cost_model.model.name} on {cost_model.gpu.name}, datasheet peaks)"
    if isinstance(cost_model, TensorParallelCostModel):
        return (f"{describe_cost_model(cost_model.shard_cost)} + ring all-reduce over "
                f"{cost_model.tp} GPUs")
    name = getattr(cost_model, "name", type(cost_model).__name__)
    return f"profile {name}"


def matching_profile(gpu: str, model: str, run: dict, modes: tuple[str, ...], tp: int = 1) -> str:
    """The bundled profile of this GPU, model and TP degree, in one of ``modes``, measured under the
    engine configuration ``run`` states; ValueError naming the settings that differ when none is."""
    shard = f"-tp{tp}" if tp > 1 else ""
    stem = f"{gpu.lower()}-{model.lower()}{shard}-"
    candidates = [name for mode in modes for name in bundled_profiles()
                  if name.startswith(stem + mode) and read_meta(resolve_profile_path(name))["mode"] == mode]
    if not candidates:
        return None
    differences = {}
    for name in candidates:
        differences[name] = engine_match.mismatches(engine_match.profile_settings(read_meta(resolve_profile_path(name))), run)
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
    if meta is None:
        return []
    return engine_match.mismatches(engine_match.profile_settings(meta), run)
