"""The schema of every setting a scenario, a sweep grid or the command line can give.

One flat set of settings (types, ranges, units in names) validated by pydantic in strict mode, so
``max_num_seqs: true``, ``1.5``, ``.nan`` or ``[8]`` are errors rather than coerced. A scenario
YAML may group settings in sections that mirror the command's flag groups::

    trace:       {path: conv.csv, format: auto, window: 600s:1200s, limit: 5000, rate_scale: 2}
    policy:      {name: continuous, max_num_seqs: 128, max_num_batched_tokens: 4096}
    hardware:    {gpu: h200, replicas: 2, tensor_parallel_size: 1}
    cost_model:  {model: llama-3-8b, profile: roofline}
    slo:         {ttft_p99: 2s, tpot_p99: 100ms}      # or the string "ttft_p99=2s,..."
    output:      {out: run/, json: false}
    planning:    {window_s: 600, max_replicas: 64}
    seed: 0

or give the same names flat (``max_num_seqs: 128``). Paths (trace, profile, out, ...) are taken
relative to the YAML file. Errors name the file, the key's line and the key.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from batchsim.inputs import InputError, quote, read_yaml, where
from batchsim.planning.slo import parse_goodput, parse_slo
from batchsim.policies import POLICIES
from batchsim.simulator.config import PREEMPTION_MODES
from batchsim.simulator.router import ROUTERS
from batchsim.traces.detect import FORMATS

MAX_COUNT = 1_000_000  # batch sizes, sequences in flight
MAX_TOKENS = 1 << 31

PosInt = Annotated[int, Field(ge=1, le=MAX_COUNT)]
TokenCount = Annotated[int, Field(ge=1, le=MAX_TOKENS)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class Settings(BaseModel):
    """Every setting by its flat name; None means not given."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # trace
    trace: str | None = None
    trace_format: str | None = None
    skip_bad: bool | None = None
    trace_model: str | None = None
    spread_ties: bool | None = None
    tokenizer: str | None = None
    sharegpt_filters: bool | None = None
    window: str | None = None
    sample: PosInt | None = None
    limit: Annotated[int, Field(ge=1, le=1 << 40)] | None = None
    rate_scale: Annotated[float, Field(ge=1e-6, le=1e6, allow_inf_nan=False)] | None = None
    clip_to_max_len: Annotated[int, Field(ge=2, le=MAX_TOKENS)] | None = None
    seed: Annotated[int, Field(ge=0, lt=1 << 63)] | None = None
    # cost model and hardware
    gpu: str | None = None
    model: str | None = None
    profile: str | None = None
    step_time: str | None = None
    engine: dict[str, Any] | None = None
    allow_profile_mismatch: bool | None = None
    replicas: Annotated[int, Field(ge=1, le=10_000)] | None = None
    router: str | None = None
    tensor_parallel_size: Annotated[int, Field(ge=1, le=1024)] | None = None
    gpu_memory_utilization: Fraction | None = None
    kv_blocks: Annotated[int, Field(ge=1, le=1 << 40)] | None = None
    # policy
    policy: str | None = None
    batch_size: PosInt | None = None
    max_wait_s: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)] | None = None
    max_num_seqs: PosInt | None = None
    max_num_batched_tokens: TokenCount | None = None
    block_size: Annotated[int, Field(ge=1, le=1 << 20)] | None = None
    max_model_len: TokenCount | None = None
    watermark: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] | None = None
    preemption_mode: str | None = None
    long_prefill_token_threshold: Annotated[int, Field(ge=0, le=MAX_TOKENS)] | None = None
    enable_prefix_caching: bool | None = None
    # objectives, output, planning
    slo: str | None = None
    goodput: str | None = None
    out: str | None = None
    print_json: bool | None = None
    window_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    rate_tolerance: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None
    max_replicas: Annotated[int, Field(ge=1, le=10_000)] | None = None
    gpu_cost_per_hour: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    tp_options: str | None = None

    @field_validator("slo")
    @classmethod
    def _slo_grammar(cls, value):
        if value is not None:
            parse_slo(value)
        return value

    @field_validator("engine")
    @classmethod
    def _engine_settings(cls, value):
        if value is not None:
            from batchsim.simulator.engine_match import SETTINGS
            unknown = sorted(set(value) - set(SETTINGS))
            if unknown:
                raise ValueError(f"unknown engine setting(s) {', '.join(quote(k, 40) for k in unknown)} "
                                 f"(known: {', '.join(SETTINGS)})")
        return value

    @field_validator("policy", "router", "preemption_mode", "trace_format", "step_time")
    @classmethod
    def _choice(cls, value, info):
        if value is not None:
            known = _choices(info.field_name)
            if value not in known:
                raise ValueError(f"unknown {info.field_name.replace('_', ' ')} {quote(value, 40)} "
                                 f"(known: {', '.join(known)})")
        return value

    @field_validator("goodput")
    @classmethod
    def _goodput_grammar(cls, value):
        if value is not None:
            parse_goodput(value)
        return value


def _choices(name: str) -> tuple[str, ...]:
    return {"policy": tuple(POLICIES), "router": tuple(ROUTERS), "step_time": ("mean", "sampled"),
            "preemption_mode": PREEMPTION_MODES, "trace_format": ("auto", *FORMATS)}[name]


SETTING_NAMES = tuple(Settings.model_fields)
PATH_SETTINGS = ("trace", "profile", "out", "tokenizer", "gpu", "model")
NAME_OR_PATH = ("profile", "gpu", "model", "tokenizer")  # a catalog name unless the file exists
SECTIONS: dict[str, dict[str, str]] = {
    "trace": {"path": "trace", "format": "trace_format", "skip_bad": "skip_bad",
              "model": "trace_model", "spread_ties": "spread_ties", "tokenizer": "tokenizer",
              "sharegpt_filters": "sharegpt_filters", "window": "window", "sample": "sample",
              "limit": "limit", "rate_scale": "rate_scale", "clip_to_max_len": "clip_to_max_len",
              "seed": "seed"},
    "policy": {"name": "policy", **{k: k for k in (
        "batch_size", "max_wait_s", "max_num_seqs", "max_num_batched_tokens", "block_size",
        "max_model_len", "watermark", "preemption_mode", "long_prefill_token_threshold",
        "enable_prefix_caching")}},
    "hardware": {k: k for k in ("gpu", "replicas", "router", "tensor_parallel_size",
                                "gpu_memory_utilization", "kv_blocks")},
    "cost_model": {k: k for k in ("model", "profile", "step_time", "engine",
                                  "allow_profile_mismatch")},
    "output": {"out": "out", "json": "print_json"},
    "planning": {k: k for k in ("window_s", "rate_tolerance", "max_replicas",
                                "gpu_cost_per_hour", "tp_options")},
}
SECTION_ALIASES = {"serving": "policy", "cost model": "cost_model", "cost-model": "cost_model"}


def _message(error: dict) -> str:
    kind, text = error.get("type", ""), error.get("msg", "invalid")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in ("int_type", "float_type", "bool_type", "string_type"):
        expected = kind.split("_")[0].replace("int", "an integer").replace(
            "float", "a number").replace("bool", "true or false").replace("string", "text")
        return f"expected {expected}, got {quote(error.get('input'), 40)}"
    context, shown = error.get("ctx", {}), quote(error.get("input"), 40)
    bounds = {"greater_than_equal": ("at least", "ge"), "greater_than": ("above", "gt"),
              "less_than_equal": ("at most", "le"), "less_than": ("below", "lt")}
    if kind in bounds:
        word, key = bounds[kind]
        return f"must be {word} {context.get(key)}, got {shown}"
    if kind == "finite_number":
        return f"must be a finite number, got {shown}"
    if text.startswith("Value error, "):
        text = text.removeprefix("Value error, ")
    return text


def validate(values: dict[str, Any], describe=lambda key: key) -> Settings:
    """Settings from flat values; the error is ``describe(key): problem`` for the first bad key."""
    coerced = {k: float(v) if isinstance(v, int) and not isinstance(v, bool)
               and Settings.model_fields.get(k) is not None and _is_float(k) else v
               for k, v in values.items()}
    try:
        return Settings(**coerced)
    except ValidationError as error:
        first = error.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else ""
        raise InputError(f"{describe(key)}: {_message(first)}") from None


def _is_float(name: str) -> bool:
    return "float" in str(Settings.model_fields[name].annotation)


def flatten(values: dict, name: str, lines: dict) -> tuple[dict, dict[str, tuple]]:
    """Flat settings from a sectioned (or flat) mapping, and each setting's YAML key path."""
    flat: dict[str, Any] = {}
    paths: dict[str, tuple] = {}

    def put(setting: str, value, path: tuple) -> None:
        if setting in flat:
            raise InputError(f"{where(name, lines, path)}: given twice (also at "
                             f"{'.'.join(paths[setting])})")
        flat[setting], paths[setting] = value, path

    for key, value in values.items():
        key_text = str(key)
        section = SECTION_ALIASES.get(key_text, key_text)
        if section == "slo" and isinstance(value, dict):
            put("slo", _slo_text(value, name, lines), (key_text,))
        elif section in SECTIONS and isinstance(value, dict):
            for inner, inner_value in value.items():
                setting = SECTIONS[section].get(str(inner))
                if setting is None:
                    known = ", ".join(SECTIONS[section])
                    raise InputError(f"{where(name, lines, (key_text, str(inner)))}: unknown key "
                                     f"(known in {key_text}: {known})"[:290])
                put(setting, inner_value, (key_text, str(inner)))
        elif key_text in SETTING_NAMES:
            put(key_text, value, (key_text,))
        else:
            known = ", ".join([*SECTIONS, "slo", "seed"])
            raise InputError(f"{where(name, lines, (key_text,))}: unknown key (sections: {known};"
                             " or a flat setting name)")
    return flat, paths


def _slo_text(objectives: dict, name: str, lines: dict) -> str:
    terms = []
    for metric, limit in objectives.items():
        if not isinstance(limit, str):
            raise InputError(f"{where(name, lines, ('slo', str(metric)))}: expected a duration "
                             f"with a unit (e.g. 2s or 100ms), got {quote(limit, 40)}")
        terms.append(f"{metric}={limit}")
    return ",".join(terms)


def resolve_paths(flat: dict, base: Path) -> dict:
    """Relative paths taken from the YAML file's folder (a bundled profile name stays a name)."""
    out = dict(flat)
    for key in PATH_SETTINGS:
        value = out.get(key)
        if not isinstance(value, str) or not value or Path(value).is_absolute():
            continue
        candidate = base / value
        if key in NAME_OR_PATH and not candidate.exists():
            continue  # a catalog or bundled name
        out[key] = str(candidate)
    return out


def load_settings(path: str) -> Settings:
    """A scenario YAML file's settings, validated; errors name the file, line and key."""
    values, lines = read_yaml(path, "scenario file")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise InputError(f"{path}: a scenario is a mapping of settings (or sections)")
    flat, paths = flatten(values, path, lines)
    flat = resolve_paths(flat, Path(path).parent)
    return validate(flat, lambda key: where(path, lines, paths.get(key, (key,))))


def given(settings: Settings) -> dict:
    """The settings that were given (not None)."""
    return {k: v for k, v in settings.model_dump().items() if v is not None}


ARG_NAMES = {"trace_format": "format", "print_json": "json"}


def apply_settings(args, values: dict) -> None:
    """Fill a command's parsed flags from a scenario's settings where the command line gave
    none (``args.explicit`` names the flags given); settings the command lacks are ignored."""
    explicit = set(getattr(args, "explicit", ()))
    for name, value in values.items():
        dest = ARG_NAMES.get(name, name)
        if not hasattr(args, dest) or dest in explicit:
            continue
        current = getattr(args, dest)
        if explicit or current in (None, False) or (dest == "format" and current == "auto"):
            setattr(args, dest, value)


def check_finite(name: str, value: float) -> float:
    """``value`` if finite, else an error naming the setting."""
    if not math.isfinite(value):
        raise InputError(f"{name}: {value} is not a finite number")
    return value
