"""Choosing the cost model for a scenario: a GPU profile when one exists, else the roofline.

``profile`` may be a bundled profile name, a profile directory, or ``roofline`` to force the
analytic model. With no profile given, a bundled profile for the same GPU and model is used
(the mode that matches transformers' continuous-batching engine first).
"""
from __future__ import annotations

from simulator.hardware import get_gpu
from simulator.models import get_model
from simulator.roofline import RooflineCostModel

ROOFLINE = "roofline"


def bundled_profile_for(gpu: str, model: str) -> str | None:
    """Name of the bundled profile for this GPU and model, if one ships."""
    try:
        from simulator.profile_cost import bundled_profiles
    except ImportError:
        return None
    prefix = f"{gpu.lower()}-{model.lower()}-"
    names = sorted(n for n in bundled_profiles() if n.startswith(prefix) and "-tp" not in n)
    preferred = [n for n in names if n.endswith("-engine")]
    return (preferred or names or [None])[0]


def build_cost_model(gpu: str, model: str, profile: str | None = None):
    """The cost model a scenario asks for; ValueError names what is unknown."""
    if profile and profile != ROOFLINE:
        from simulator.profile_cost import load_profile_cost_model
        return load_profile_cost_model(profile)
    if profile is None:
        name = bundled_profile_for(gpu, model)
        if name:
            from simulator.profile_cost import load_profile_cost_model
            return load_profile_cost_model(name)
    return RooflineCostModel(get_model(model), get_gpu(gpu))


def describe_cost_model(cost_model) -> str:
    """One line naming the cost model, for reports."""
    if isinstance(cost_model, RooflineCostModel):
        return f"roofline ({cost_model.model.name} on {cost_model.gpu.name}, datasheet peaks)"
    name = getattr(cost_model, "name", type(cost_model).__name__)
    return f"profile {name}"
