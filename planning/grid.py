"""Sweep grids: which settings vary (a list of values each) and which stay fixed.

A setting is any Scenario or ServingConfig field (``policy``, ``max_num_seqs``,
``max_num_batched_tokens``, ``block_size``, ``replicas``, ``trace``...) plus two sweep-only
settings: ``rate_scale`` (arrival times divided by it; 1 keeps the trace) and ``batch`` (sets
both ``batch_size`` and ``max_num_seqs``, so that static and continuous batching vary the same
knob in one axis). Points are the cartesian product of the axes, the first axis varying
slowest. From flags: ``--set max_num_seqs=8,16,32``. From YAML: a mapping whose list values are
axes and whose scalar values are fixed settings.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from batchsim.planning.scenario import Scenario
from batchsim.simulator.config import ServingConfig

SWEEP_ONLY = {"rate_scale": "float", "batch": "int"}


def _field_types() -> dict[str, str]:
    types = {f.name: str(f.type) for f in fields(Scenario) if f.name != "serving"}
    types.update({f.name: str(f.type) for f in fields(ServingConfig)})
    types.update(SWEEP_ONLY)
    return types


SETTING_TYPES = _field_types()


def setting_name(text: str) -> str:
    """Normalize ``max-num-seqs`` to ``max_num_seqs``; unknown names are errors."""
    name = text.strip().replace("-", "_")
    if name not in SETTING_TYPES:
        raise ValueError(f"unknown sweep setting '{text.strip()}' "
                         f"(known: {', '.join(sorted(SETTING_TYPES))})")
    return name


def parse_value(name: str, raw) -> object:
    """A setting's value from text (or a YAML scalar), typed as its field is."""
    kind = SETTING_TYPES[name]
    text = str(raw).strip()
    if "None" in kind and text.lower() in ("none", "null", ""):
        return None
    base = kind.replace(" | None", "")
    if base == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"sweep setting {name}: '{text}' is not an integer") from None
    if base == "float":
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if name == "rate_scale" and not value > 0 or value != value:
            raise ValueError(f"sweep setting {name}: '{text}' is not a "
                             f"{'positive ' if name == 'rate_scale' else ''}number")
        return value
    if not text:
        raise ValueError(f"sweep setting {name}: empty value")
    return text


def parse_set(text: str) -> tuple[str, tuple]:
    """``max_num_seqs=8,16,32`` -> ('max_num_seqs', (8, 16, 32))."""
    name, sep, values = text.partition("=")
    if not sep or not values.strip():
        raise ValueError(f"--set '{text}': expected SETTING=V1,V2,... (e.g. max_num_seqs=8,16,32)")
    name = setting_name(name)
    return name, tuple(parse_value(name, v) for v in values.split(","))


@dataclass(frozen=True)
class SweepGrid:
    """Axes (setting, values) varied as a cartesian product, plus fixed settings."""

    axes: tuple[tuple[str, tuple], ...]
    fixed: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        names = [name for name, _ in self.axes] + [name for name, _ in self.fixed]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"sweep setting given twice: {', '.join(repeated)}")
        if "batch" in names and ({"batch_size", "max_num_seqs"} & set(names)):
            raise ValueError("'batch' sets batch_size and max_num_seqs; do not also set them")
        for name, values in self.axes:
            if not values:
                raise ValueError(f"sweep setting {name} has no values")

    def points(self) -> list[dict]:
        """One settings mapping per point: fixed settings, then the axes' values."""
        names = [name for name, _ in self.axes]
        fixed = dict(self.fixed)
        return [{**fixed, **dict(zip(names, combo))}
                for combo in itertools.product(*(values for _, values in self.axes))]


def grid_from_sets(sets: list[str]) -> SweepGrid:
    """A grid from repeated ``--set`` flags."""
    return SweepGrid(tuple(parse_set(text) for text in sets))


def load_grid(path: str) -> SweepGrid:
    """A grid from YAML: list values are axes, scalars are fixed (safe loader)."""
    try:
        values = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ValueError(f"{path}{where}: not valid YAML") from None
    if not isinstance(values, dict) or not values:
        raise ValueError(f"{path}: a sweep grid is a mapping of setting -> value or list of values")
    axes, fixed = [], []
    for key, value in values.items():
        name = setting_name(str(key))
        try:
            if isinstance(value, list):
                axes.append((name, tuple(parse_value(name, v) for v in value)))
            elif isinstance(value, dict):
                raise ValueError(f"sweep setting {name}: expected a value or a list of values")
            else:
                fixed.append((name, parse_value(name, value)))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    return SweepGrid(tuple(axes), tuple(fixed))


def scenario_overrides(settings: dict) -> tuple[dict, float]:
    """Split a point's settings into Scenario overrides and the rate scale."""
    overrides = {k: v for k, v in settings.items() if k not in SWEEP_ONLY}
    if settings.get("batch") is not None:
        overrides["batch_size"] = overrides["max_num_seqs"] = settings["batch"]
    return overrides, float(settings.get("rate_scale") or 1.0)
