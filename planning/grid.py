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
import math
from dataclasses import dataclass, fields
from pathlib import Path

from batchsim.inputs import InputError, quote, read_yaml
from batchsim.limits import DEFAULT_LIMITS, Limits
from batchsim.planning.scenario import Scenario
from batchsim.planning.schema import MAX_COUNT, resolve_paths, validate
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
        raise ValueError(f"unknown sweep setting {quote(text.strip(), 40)} "
                         f"(known: {', '.join(sorted(SETTING_TYPES))})")
    return name


def _from_text(name: str, kind: str, text: str):
    """A --set value (or a YAML string) typed as its field is."""
    if "None" in kind and text.lower() in ("none", "null", ""):
        return None
    base = kind.replace(" | None", "")
    if base == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"sweep setting {name}: {quote(text, 40)} is not an integer") from None
    if base == "float":
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if name == "rate_scale" and not value > 0 or not math.isfinite(value):
            raise ValueError(f"sweep setting {name}: {quote(text, 40)} is not a "
                             f"{'positive ' if name == 'rate_scale' else ''}finite number")
        return value
    if not text:
        raise ValueError(f"sweep setting {name}: empty value")
    return text


def parse_value(name: str, raw) -> object:
    """A setting's value from text (or a YAML scalar), typed and range-checked as its field is.

    YAML scalars keep their type (``true`` is not an integer, ``.nan`` not a number)."""
    kind = SETTING_TYPES[name]
    if isinstance(raw, str):
        value = _from_text(name, kind, raw.strip())
    elif raw is None or isinstance(raw, (bool, int, float)):
        value = float(raw) if "float" in kind and type(raw) is int else raw
    else:
        raise ValueError(f"sweep setting {name}: expected a value, got {quote(raw, 40)}")
    if value is not None:
        _check_range(name, value)
    return value


def _check_range(name: str, value) -> None:
    if name == "batch":
        ok = type(value) is int and 1 <= value <= MAX_COUNT
        if not ok:
            raise ValueError(f"sweep setting batch: {quote(value, 40)} is not an integer in "
                             f"1..{MAX_COUNT:,}")
        return
    try:
        validate({name: value}, lambda key: f"sweep setting {key}")
    except InputError as error:
        raise ValueError(str(error)) from None


def parse_set(text: str) -> tuple[str, tuple]:
    """``max_num_seqs=8,16,32`` -> ('max_num_seqs', (8, 16, 32))."""
    name, sep, values = text.partition("=")
    if not sep or not values.strip():
        raise ValueError(f"--set {quote(text, 60)}: expected SETTING=V1,V2,... "
                         "(e.g. max_num_seqs=8,16,32)")
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

    @property
    def size(self) -> int:
        """Number of points (the product of the axes' lengths), computed without building them."""
        return math.prod(len(values) for _, values in self.axes)

    def points(self, limits: Limits = DEFAULT_LIMITS) -> list[dict]:
        """One settings mapping per point: fixed settings, then the axes' values."""
        limits.check("grid_points", self.size, "sweep grid points")
        names = [name for name, _ in self.axes]
        fixed = dict(self.fixed)
        return [{**fixed, **dict(zip(names, combo))}
                for combo in itertools.product(*(values for _, values in self.axes))]


def grid_from_sets(sets: list[str]) -> SweepGrid:
    """A grid from repeated ``--set`` flags."""
    return SweepGrid(tuple(parse_set(text) for text in sets))


def load_grid(path: str) -> SweepGrid:
    """A grid from YAML: list values are axes, scalars are fixed (safe loader). Trace and
    profile paths are taken relative to the grid file; errors name the file, line and key."""
    values, lines = read_yaml(path, "sweep grid file")
    if not isinstance(values, dict) or not values:
        raise InputError(f"{path}: a sweep grid is a mapping of setting -> value or list of "
                         "values")
    axes, fixed = [], []
    base = Path(path).parent
    for key, value in values.items():
        line = lines.get((str(key),))
        at = f"{path} line {line}" if line else path
        try:
            name = setting_name(str(key))
            if isinstance(value, list):
                axes.append((name, tuple(_resolved(name, parse_value(name, v), base)
                                         for v in value)))
            elif isinstance(value, dict):
                raise ValueError(f"sweep setting {name}: expected a value or a list of values")
            else:
                fixed.append((name, _resolved(name, parse_value(name, value), base)))
        except ValueError as error:
            raise InputError(f"{at}: {error}") from None
    return SweepGrid(tuple(axes), tuple(fixed))


def _resolved(name: str, value, base: Path):
    if isinstance(value, str):
        return resolve_paths({name: value}, base)[name]
    return value


def scenario_overrides(settings: dict) -> tuple[dict, float]:
    """Split a point's settings into Scenario overrides and the rate scale."""
    overrides = {k: v for k, v in settings.items() if k not in SWEEP_ONLY}
    if settings.get("batch") is not None:
        overrides["batch_size"] = overrides["max_num_seqs"] = settings["batch"]
    return overrides, float(settings.get("rate_scale") or 1.0)
