"""GPU datasheet figures used by the roofline cost model and the planner.

Peak numbers are vendor datasheet values (dense bf16, no sparsity; SXM parts). Achievable
fractions of those peaks are separate, named assumptions in the roofline model.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """One GPU's datasheet figures."""

    name: str
    bf16_flops: float  # FLOP/s, dense
    hbm_bytes_per_s: float
    memory_bytes: int
    host_link_bytes_per_s: float  # PCIe, one direction
    nvlink_bytes_per_s: float  # per GPU, one direction


GPUS: dict[str, GpuSpec] = {
    spec.name: spec
    for spec in (
        GpuSpec("h200", 989e12, 4.8e12, 141 * 10**9, 64e9, 450e9),
        GpuSpec("h100", 989e12, 3.35e12, 80 * 10**9, 64e9, 450e9),
        GpuSpec("a100", 312e12, 2.039e12, 80 * 10**9, 32e9, 300e9),
    )
}


def get_gpu(name: str) -> GpuSpec:
    """Look a GPU up by name; the error lists the known names."""
    try:
        return GPUS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown GPU '{name}' (known: {', '.join(GPUS)})") from None
