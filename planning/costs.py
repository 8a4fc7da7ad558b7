"""Choosing the cost model for a scenario: a GPU profile when one exists, else the roofline.

``profile`` may be a bundled profile name, a profile directory, or ``roofline`` to force the
analytic model. With no profile given, a bundled profile for the same GPU and model is used
(CUDA-graph mode first: see simulator.profile_cost.MODE_PREFERENCE).
"""
from __future__ import annotations

from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.profile_cost import default_profile_name, load_profile_cost_model
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


def is_profiled(cost_model) -> bool:
    """Whether steps are priced from measurements (a profile) rather than datasheet peaks alone."""
    if isinstance(cost_model, TensorParallelCostModel):
        return is_profiled(cost_model.shard_cost)
    return not isinstance(cost_model, RooflineCostModel)


def describe_cost_model(cost_model) -> str:
    """One line naming the cost model, for reports; a roofline says it is unprofiled."""
    if isinstance(cost_model, RooflineCostModel):
        return (f"roofline, UNPROFILED ({cost_model.model.name} on {cost_model.gpu.name}: "
                f"datasheet peaks, no measured profile)")
    if isinstance(cost_model, TensorParallelCostModel):
        return (f"{describe_cost_model(cost_model.shard_cost)} + ring all-reduce over "
                f"{cost_model.tp} GPUs")
    name = getattr(cost_model, "name", type(cost_model).__name__)
    return f"profile {name}"


def cost_model_keys(cost_model) -> dict:
    """The keys every summary carries about its cost model (JSON, sweep rows)."""
    return {"cost_model": describe_cost_model(cost_model), "profiled": is_profiled(cost_model)}
