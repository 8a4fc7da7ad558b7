"""Choosing the cost model for a scenario: a GPU profile when one exists, else the roofline.

``profile`` may be a bundled profile name, a profile directory, or ``roofline`` to force the
analytic model. With no profile given, a bundled profile for the same GPU and model is used
(the mode that matches transformers' continuous-batching engine first).
"""
from __future__ import annotations

from simulator.hardware import get_gpu
from simulator.models import get_model
from simulator.roofline import RooflineCostModel
from simulator.tensor_parallel import AllReduceModel, TensorParallelCostModel, shard_spec

ROOFLINE = "roofline"


def bundled_profile_for(gpu: str, model: str, tp: int = 1) -> str | None:
    """Name of the bundled profile for this GPU and model (a TP shard when tp > 1), if any."""
    try:
        from simulator.profile_cost import bundled_profiles
    except ImportError:
        return None
    prefix = f"{gpu.lower()}-{model.lower()}-" + (f"tp{tp}-" if tp > 1 else "")
    names = sorted(n for n in bundled_profiles()
                   if n.startswith(prefix) and (tp > 1 or "-tp" not in n[len(prefix) - 1:]))
    preferred = [n for n in names if n.endswith("-engine")]
    return (preferred or names or [None])[0]


def build_cost_model(gpu: str, model: str, profile: str | None = None, tp: int = 1):
    """The cost model a scenario asks for; ValueError names what is unknown.

    With ``tp`` > 1 the profile (or roofline) prices one tensor-parallel shard and the
    all-reduce model adds the communication between the replica's GPUs.
    """
    if tp > 1:
        return _tensor_parallel(gpu, model, profile, tp)
    if profile and profile != ROOFLINE:
        from simulator.profile_cost import load_profile_cost_model
        return load_profile_cost_model(profile)
    if profile is None:
        name = bundled_profile_for(gpu, model)
        if name:
            from simulator.profile_cost import load_profile_cost_model
            return load_profile_cost_model(name)
    return RooflineCostModel(get_model(model), get_gpu(gpu))


def _tensor_parallel(gpu: str, model: str, profile: str | None, tp: int):
    spec, gpu_spec = get_model(model), get_gpu(gpu)
    if profile is None:
        profile = bundled_profile_for(gpu, model, tp)
    if profile and profile != ROOFLINE:
        from simulator.profile_cost import load_profile_cost_model
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
