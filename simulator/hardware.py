"""GPU datasheet figures used by the roofline cost model and the planner.

A GPU is described by a small YAML datasheet (dense bf16 FLOP/s without sparsity, device memory
bandwidth and size in bytes, host link and NVLink bandwidth per direction in bytes/s, and
optionally ``sm_count``, its streaming multiprocessors, which sets how evenly GEMM tiles fill it:
simulator.roofline). The
shipped catalog is such files under ``simulator/data/gpus/``, each citing its source; ``--gpu``
takes a catalog name or a path to a file in the same format. Achievable fractions of these peaks
are separate, named assumptions in the roofline model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from batchsim.simulator import bundled_yaml

GPU_KEYS = ("bf16_flops", "hbm_bytes_per_s", "memory_bytes", "host_link_bytes_per_s",
            "nvlink_bytes_per_s")
OPTIONAL_GPU_KEYS = ("sm_count",)


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """One GPU's datasheet figures."""

    name: str
    bf16_flops: float  # FLOP/s, dense
    hbm_bytes_per_s: float
    memory_bytes: int
    host_link_bytes_per_s: float  # PCIe, one direction
    nvlink_bytes_per_s: float  # per GPU, one direction
    sm_count: int | None = None  # streaming multiprocessors; None: GEMM tiling not modelled


def _gpus_root() -> Path:
    return Path(str(resources.files("batchsim.simulator").joinpath("data", "gpus")))


def _number(values: dict, key: str, source: str) -> float:
    if key not in values:
        raise ValueError(f"{source}: missing key '{key}'")
    value = values[key]
    if isinstance(value, str):  # YAML 1.1 reads '1e12' (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"{source}: key '{key}' must be a positive number, got {values[key]!r}")
    return float(value)


def gpu_from_mapping(values, source: str, default_name: str) -> GpuSpec:
    """A GpuSpec from a parsed datasheet mapping; errors name ``source`` and the key."""
    if not isinstance(values, dict):
        raise ValueError(f"{source}: a GPU datasheet is a mapping of "
                         f"{', '.join(('name',) + GPU_KEYS)}")
    known = GPU_KEYS + OPTIONAL_GPU_KEYS
    unknown = sorted(set(values) - set(known) - {"name"})
    if unknown:
        raise ValueError(f"{source}: unknown key '{unknown[0]}' (known: name, {', '.join(known)})")
    figures = {key: _number(values, key, source) for key in GPU_KEYS}
    figures["memory_bytes"] = int(figures["memory_bytes"])
    if values.get("sm_count") is not None:
        count = _number(values, "sm_count", source)
        if count != int(count):
            raise ValueError(f"{source}: key 'sm_count' must be a whole number, got {values['sm_count']!r}")
        figures["sm_count"] = int(count)
    return GpuSpec(name=str(values.get("name") or default_name), **figures)


def load_gpu_file(path: str | Path) -> GpuSpec:
    """Read a GPU datasheet YAML file (safe loader)."""
    path = Path(path)
    values = bundled_yaml.lookup(path)
    if values is not bundled_yaml.MISSING:
        return gpu_from_mapping(values, str(path), path.stem)
    import yaml  # only for a file the bundled copy does not hold

    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ValueError(f"{path}{where}: not valid YAML") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read ({error.strerror})") from None
    return gpu_from_mapping(values, str(path), path.stem)


def _catalog() -> dict[str, GpuSpec]:
    return {path.stem: load_gpu_file(path) for path in sorted(_gpus_root().glob("*.yaml"))}


GPUS: dict[str, GpuSpec] = _catalog()


def is_gpu_path(text: str) -> bool:
    """Whether ``text`` names a datasheet file rather than a catalog entry."""
    return text.lower().endswith((".yaml", ".yml")) or Path(text).is_file()


def get_gpu(name_or_path: "str | GpuSpec") -> GpuSpec:
    """A catalog GPU by name, or a datasheet YAML file by path (a GpuSpec passes through); the
    error lists the names."""
    if isinstance(name_or_path, GpuSpec):
        return name_or_path
    if is_gpu_path(name_or_path):
        return load_gpu_file(name_or_path)
    try:
        return GPUS[name_or_path.lower()]
    except KeyError:
        raise ValueError(f"unknown GPU '{name_or_path}' (known: {', '.join(GPUS)}; or a path to a "
                         f"GPU datasheet YAML)") from None
