"""The profile file format: ``profile.yaml`` (metadata) plus ``steps.csv`` (one measured step per row).

Times are seconds, sizes bytes, lengths tokens. A row records one grid point: the step's
composition as the engine ran it (prefill chunks as ``new:cached`` pairs joined by ``;``, decodes
by count, context sum and maximum), the median wall time of the whole step and the median GPU
time of its forward with their 10th and 90th percentiles, the number of repeats, and a status
(``ok``, ``oom`` or ``error``). Three later columns keep the spread of the repeats: the mean wall and
GPU times and every repeat's wall time in whole microseconds, in the order the repeats ran
(``wall_samples_us``, ``;``-joined), so streaks of slow steps stay visible; profiles written before
them read with the mean equal to the median and no samples. Files are read with PyYAML's safe loader and ``csv`` only
(a bundled profile's metadata from its parsed copy, simulator.bundled_yaml), so this module
imports neither torch nor numpy and serves the profiler and the simulator alike.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from batchsim.inputs import quote, read_yaml
from batchsim.simulator import bundled_yaml

FORMAT = "batchsim-profile/1"
PROFILE_FILE = "profile.yaml"
STEPS_FILE = "steps.csv"
STEP_COLUMNS = (
    "kind", "prefill_chunks", "decode_count", "decode_context_sum", "decode_context_max",
    "wall_s", "wall_p10_s", "wall_p90_s", "gpu_s", "gpu_p10_s", "gpu_p90_s", "repeats",
    "status", "note",
)
# columns a profile may lack (written before they existed); read with the defaults below
SPREAD_COLUMNS = ("wall_mean_s", "gpu_mean_s", "wall_samples_us")
# a depth-scaled profile also keeps every step as timed at each reduced depth (and the full-depth
# check points) in depths.csv: the step columns behind a ``layers`` column
DEPTHS_FILE = "depths.csv"
STEP_KINDS = ("prefill", "decode", "skewed", "mixed")
STATUSES = ("ok", "oom", "error")


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One measured grid point."""

    kind: str
    prefill_chunks: tuple[tuple[int, int], ...]
    decode_count: int
    decode_context_sum: int
    decode_context_max: int
    wall_s: float
    wall_p10_s: float
    wall_p90_s: float
    gpu_s: float
    gpu_p10_s: float
    gpu_p90_s: float
    repeats: int
    status: str = "ok"
    note: str = ""
    wall_mean_s: float | None = None  # None: not measured (older profile); read as the median
    gpu_mean_s: float | None = None
    wall_samples_s: tuple[float, ...] = ()  # every timed repeat's wall time, in the order run

    @property
    def wall_mean_or_median_s(self) -> float:
        """The mean wall time where the profile kept it, else the median."""
        return self.wall_s if self.wall_mean_s is None else self.wall_mean_s

    def __post_init__(self) -> None:
        if self.kind not in STEP_KINDS:
            raise ValueError(f"step kind '{self.kind}' is not one of {', '.join(STEP_KINDS)}")
        if self.status not in STATUSES:
            raise ValueError(f"step status '{self.status}' is not one of {', '.join(STATUSES)}")
        times = (self.wall_s, self.wall_p10_s, self.wall_p90_s, self.gpu_s, self.gpu_p10_s,
                 self.gpu_p90_s)
        if self.status == "ok" and not all(math.isfinite(t) for t in times):
            raise ValueError("an ok step's times must be finite numbers of seconds")
        if self.status == "ok" and not (self.wall_s > 0 and self.gpu_s >= 0):
            raise ValueError("an ok step needs wall_s > 0 and gpu_s >= 0")
        if self.decode_count < 0 or self.decode_context_sum < 0 or self.decode_context_max < 0:
            raise ValueError("decode counts must be non-negative")
        if any(new < 1 or cached < 0 for new, cached in self.prefill_chunks):
            raise ValueError("prefill chunks need new >= 1 and cached >= 0")

    @property
    def num_tokens(self) -> int:
        """New tokens computed in the step."""
        return sum(new for new, _ in self.prefill_chunks) + self.decode_count


def format_chunks(chunks: tuple[tuple[int, int], ...]) -> str:
    """``((512, 0), (64, 1024))`` -> ``'512:0;64:1024'``."""
    return ";".join(f"{new}:{cached}" for new, cached in chunks)


def parse_chunks(text: str) -> tuple[tuple[int, int], ...]:
    """Inverse of ``format_chunks``; raises ValueError on malformed text."""
    if not text.strip():
        return ()
    chunks = []
    for part in text.split(";"):
        new, sep, cached = part.partition(":")
        if not sep:
            raise ValueError(f"prefill chunk '{part}' is not new:cached")
        chunks.append((int(new), int(cached)))
    return tuple(chunks)


def write_profile(directory: str | Path, meta: dict, steps: list[StepRecord]) -> Path:
    """Write ``profile.yaml`` and ``steps.csv`` into ``directory``; returns the directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, **meta}
    import yaml  # here: reading a bundled profile needs no YAML module (simulator.bundled_yaml)

    with open(out / PROFILE_FILE, "w") as handle:
        yaml.safe_dump(meta, handle, sort_keys=False)
    with open(out / STEPS_FILE, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(STEP_COLUMNS + SPREAD_COLUMNS)
        writer.writerows(_row(step) + _spread(step) for step in steps)
    return out


def _row(step: StepRecord) -> list:
    return [step.kind, format_chunks(step.prefill_chunks), step.decode_count,
            step.decode_context_sum, step.decode_context_max,
            *(f"{getattr(step, name):.9g}" for name in STEP_COLUMNS[5:11]),
            step.repeats, step.status, step.note]


def _spread(step: StepRecord) -> list:
    mean = lambda value: "" if value is None else f"{value:.9g}"  # noqa: E731
    return [mean(step.wall_mean_s), mean(step.gpu_mean_s),
            ";".join(str(round(t * 1e6)) for t in step.wall_samples_s)]


def _optional_float(text) -> float | None:
    return float(text) if text not in (None, "") else None


def write_depth_rows(directory: str | Path, rows: list[tuple[int, StepRecord]]) -> Path:
    """Write ``depths.csv``: each step as timed at a given number of layers."""
    path = Path(directory) / DEPTHS_FILE
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("layers",) + STEP_COLUMNS + SPREAD_COLUMNS)
        writer.writerows([layers, *_row(step), *_spread(step)] for layers, step in rows)
    return path


def read_depth_rows(directory: str | Path) -> list[tuple[int, StepRecord]]:
    """Load ``depths.csv`` as (layers, step) pairs; a bad row is reported by line."""
    path = Path(directory) / DEPTHS_FILE
    with open(path, newline="") as handle:
        rows = []
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                layers = int(row["layers"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{path}, line {line}: field 'layers' is not an integer") from None
            rows.append((layers, _parse_row(row, path, line)))
        return rows


def read_meta(directory: str | Path) -> dict:
    """Load and check ``profile.yaml``; errors name the file and field."""
    path = Path(directory) / PROFILE_FILE
    meta = bundled_yaml.lookup(path)  # a bundled profile as parsed before, without the YAML parser
    if meta is bundled_yaml.MISSING:
        meta, _ = read_yaml(path, "profile.yaml")
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: field 'format' is {meta.get('format')!r}, expected {FORMAT!r}")
    for field in ("name", "mode", "model", "memory", "environment"):
        if field not in meta:
            raise ValueError(f"{path}: missing field '{field}'")
    _check_memory(meta["memory"], path)
    return meta


def _check_memory(memory, path: Path) -> None:
    """Byte counts given: whole numbers >= 0 (a CPU profile has no GPU memory), KV per token
    positive (it divides); the cost model names any it needs that are missing."""
    if not isinstance(memory, dict):
        raise ValueError(f"{path}: memory: expected a mapping")
    for name, least in (("gpu_memory_bytes", 0), ("weight_bytes", 0), ("kv_bytes_per_token", 1),
                        ("reserved_bytes", 0)):
        value = memory.get(name)
        if value is None and name not in memory:
            continue
        if type(value) is not int or not least <= value < 1 << 62:
            raise ValueError(f"{path}: memory.{name}: expected an integer >= {least}, got "
                             f"{quote(value, 40)}")


def _parse_row(row: dict, path: Path, line: int) -> StepRecord:
    try:
        return StepRecord(
            kind=row["kind"], prefill_chunks=parse_chunks(row["prefill_chunks"]),
            decode_count=int(row["decode_count"]), decode_context_sum=int(row["decode_context_sum"]),
            decode_context_max=int(row["decode_context_max"]),
            **{name: float(row[name]) for name in STEP_COLUMNS[5:11]},
            repeats=int(row["repeats"]), status=row["status"], note=row.get("note") or "",
            wall_mean_s=_optional_float(row.get("wall_mean_s")), gpu_mean_s=_optional_float(row.get("gpu_mean_s")),
            wall_samples_s=tuple(int(t) / 1e6 for t in (row.get("wall_samples_us") or "").split(";") if t),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}, line {line}: {error}") from None


def read_steps(directory: str | Path) -> list[StepRecord]:
    """Load ``steps.csv``; every row is checked and a bad one is reported by line."""
    path = Path(directory) / STEPS_FILE
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in STEP_COLUMNS if name not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        return [_parse_row(row, path, line) for line, row in enumerate(reader, start=2)]
