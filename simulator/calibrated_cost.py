"""Calibrated profiles: the roofline with a handful of physically named coefficients fitted to
real runs, for GPUs nobody profiled.

A step costs ``host_s + per_sequence_s x sequences + per_token_s x tokens`` (the engine's CPU
work: scheduling, input preparation, sampling) plus the roofline's dense and attention terms at
``flop_fraction`` of the datasheet FLOP/s and ``hbm_fraction`` of the datasheet memory bandwidth
(simulator.roofline). The fractions are fractions of a datasheet, so a profile calibrated on one
GPU carries to another by the ratio of their datasheets; host, per-sequence and per-token times
carry as they are (the same engine on a similar host).

A calibrated profile is a directory with ``calibration.yaml``: the format tag, a name, the
coefficients, the GPU datasheet and model shape it was calibrated on, the runs it was fitted to
and its errors on them. Read with ``yaml.safe_load`` only.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path


from batchsim.simulator.hardware import GpuSpec
from batchsim.simulator.models import ModelSpec
from batchsim.simulator.roofline import (COMPUTE_EFFICIENCY, MEMORY_EFFICIENCY, STEP_OVERHEAD_S,
                                         RooflineCostModel)

CALIBRATION_FORMAT = "batchsim-calibration/1"
CALIBRATION_FILE = "calibration.yaml"


@dataclass(frozen=True)
class Coefficients:
    """What a calibration fits (seconds; fractions of the datasheet peaks)."""

    host_s: float = STEP_OVERHEAD_S
    hbm_fraction: float = MEMORY_EFFICIENCY
    flop_fraction: float = COMPUTE_EFFICIENCY
    per_sequence_s: float = 0.0
    per_token_s: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"coefficient '{name}' must be a non-negative number, got {value!r}")
        for name in ("hbm_fraction", "flop_fraction"):
            if not 0 < getattr(self, name) <= 1.5:
                raise ValueError(f"coefficient '{name}' must be in (0, 1.5], got {getattr(self, name)}")


def calibrated_cost_model(coefficients: Coefficients, model: ModelSpec, gpu: GpuSpec,
                          name: str = "calibrated") -> RooflineCostModel:
    """The cost model of ``model`` on ``gpu`` priced with these coefficients."""
    return RooflineCostModel(
        model, gpu, step_overhead_s=coefficients.host_s,
        compute_efficiency=coefficients.flop_fraction, memory_efficiency=coefficients.hbm_fraction,
        per_sequence_s=coefficients.per_sequence_s, per_token_s=coefficients.per_token_s,
        calibration=name)


def is_calibration_dir(path: str | Path) -> bool:
    """Whether ``path`` is a directory holding a calibrated profile."""
    return (Path(path) / CALIBRATION_FILE).is_file()


def write_calibration(directory: str | Path, meta: dict) -> Path:
    """Write ``calibration.yaml`` into ``directory`` (created); returns the file."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / CALIBRATION_FILE
    import yaml  # here, not at the top: most runs read no calibration

    with open(path, "w") as handle:
        yaml.safe_dump({"format": CALIBRATION_FORMAT, **meta}, handle, sort_keys=False)
    return path


def read_calibration(directory: str | Path) -> tuple[dict, Coefficients]:
    """Load and check ``calibration.yaml``; errors name the file and key."""
    import yaml

    path = Path(directory) / CALIBRATION_FILE
    try:
        meta = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ValueError(f"{path}{f', line {mark.line + 1}' if mark else ''}: not valid YAML") from None
    if not isinstance(meta, dict) or meta.get("format") != CALIBRATION_FORMAT:
        raise ValueError(f"{path}: key 'format' must be {CALIBRATION_FORMAT!r}")
    values = meta.get("coefficients")
    if not isinstance(values, dict):
        raise ValueError(f"{path}: key 'coefficients' must be a mapping")
    known = set(Coefficients.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{path}: unknown key 'coefficients.{unknown[0]}' (known: {', '.join(sorted(known))})")
    try:
        return meta, Coefficients(**values)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
