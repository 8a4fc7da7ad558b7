"""A cost model fitted on a GPU profile: step wall time in seconds from a step's token sums.

The form is documented in ``simulator.profile_fit``; it is fitted once at load (numpy, no torch)
and evaluated per step in plain float arithmetic. Pricing is pure: a step beyond the profiled
range is priced by continuing the fitted terms (attention terms keep their quadratic and
context-linear shapes), and how far a run went beyond ``measured_range`` is computed from its
steps table afterwards (``simulator.measured_range``). KV swapped to or from the host costs its
bytes over the measured host-link
bandwidth.
"""
from __future__ import annotations

import bisect
import functools
from importlib import resources
from pathlib import Path

import numpy as np

from batchsim.simulator import profile_fit
from batchsim.simulator.cost import MemoryFacts
from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.measured_range import MeasuredRange
from batchsim.simulator.models import ModelSpec, get_model
from batchsim.simulator.profile_format import read_meta, read_steps, write_profile
from batchsim.simulator.step import StepShape

PROFILES_PACKAGE_DIR = ("data", "profiles")


def _profiles_root() -> Path:
    return Path(str(resources.files("batchsim.simulator").joinpath(*PROFILES_PACKAGE_DIR)))


DEFAULT_PROFILE = "h200-llama-3-8b-cuda-graph"
# CUDA-graph decode is how production engines (vLLM, TensorRT-LLM) run, so it prices capacity
# plans; engine mode mirrors transformers' continuous-batching engine (what validation replays).
MODE_PREFERENCE = ("cuda-graph", "engine", "eager")


def default_profile_name(gpu: str, model: str, tp: int = 1,
                         modes: tuple[str, ...] = MODE_PREFERENCE) -> str | None:
    """The bundled profile measured on this GPU for a model of the same cost shape (one shard
    of it under ``tp``), first mode in ``modes`` that exists, or None: use the roofline.

    ``gpu`` and ``model`` are catalog names or datasheet / config.json paths; a profile matches
    by the shapes that set a step's cost, not by the model's name or maximum context."""
    gpu_key = _alphanumeric(get_gpu(gpu).name)
    shape = shard_shape(get_model(model), tp)
    found = {mode: name for name, (profile_shape, gpu_name, mode) in _bundled_index().items()
             if profile_shape == shape and gpu_key in _alphanumeric(gpu_name)}
    return next((found[mode] for mode in modes if mode in found), None)


def shard_shape(model: ModelSpec, tp: int) -> tuple:
    """Cost shape of one tensor-parallel shard of ``model`` (the model itself at tp 1)."""
    if tp <= 1:
        return model.cost_shape
    layers, hidden, heads, kv_heads, head_dim, inter, vocab, dtype = model.cost_shape
    return (layers, hidden, heads // tp, kv_heads // tp, head_dim, inter // tp, -(-vocab // tp), dtype)


def _alphanumeric(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


@functools.lru_cache(maxsize=1)
def _bundled_index() -> dict[str, tuple]:
    """Bundled profile name -> (model cost shape, GPU name, mode), read once."""
    index = {}
    for name in bundled_profiles():
        path = _profiles_root() / name
        meta = read_meta(path)
        spec = _model_from_meta(meta, str(path / "profile.yaml"))
        index[name] = (spec.cost_shape, str(meta.get("environment", {}).get("gpu_name", "")),
                       str(meta["mode"]))
    return index


def bundled_profiles() -> list[str]:
    """Names of the profiles shipped with batchsim."""
    root = _profiles_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "profile.yaml").is_file())


def resolve_profile_path(path_or_name: str) -> Path:
    """A directory holding profile.yaml, or the bundled profile of that name."""
    path = Path(path_or_name)
    if (path / "profile.yaml").is_file():
        return path
    bundled = _profiles_root() / path_or_name
    if (bundled / "profile.yaml").is_file():
        return bundled
    known = ", ".join(bundled_profiles()) or "none"
    raise ValueError(f"profile '{path_or_name}' is neither a directory with profile.yaml nor a bundled "
                     f"profile (bundled: {known})")


class ProfileCostModel:
    """Prices steps from a fitted profile; see module docstring."""

    def __init__(self, meta: dict, records: list, source: str = "") -> None:
        self.meta, self.source = meta, source
        self.records = [r for r in records if r.status == "ok"]
        self.failed_points = len(records) - len(self.records)
        if len(self.records) < 8:
            raise ValueError(f"{source}: only {len(self.records)} measured steps; need at least 8 to fit")
        self.model = _model_from_meta(meta, source)
        self.memory = _memory_from_meta(meta, source)
        self.gpu_name = str(meta.get("environment", {}).get("gpu_name", "unknown"))
        self.mode = str(meta["mode"])
        self.name = str(meta["name"])
        self.engine = dict(meta.get("engine") or {})  # the engine's resolved defaults, engine mode only
        self.host_link_bytes_per_s = float(meta.get("host_link_bytes_per_s") or 64e9)
        self.feats = profile_fit.record_features(self.records)
        self.times_s = np.array([r.wall_s for r in self.records])
        form = meta.get("fit", {}).get("form")
        if form not in profile_fit.CANDIDATES:
            form, self._report = profile_fit.select_form(self.feats, self.times_s)
        else:
            self._report = meta.get("fit", {}).get("held_out")
        self.fitted = profile_fit.fit(self.feats, self.times_s, form)
        self._set_hot_path(self.fitted)
        self.measured_range = MeasuredRange.of_records(self.name, self.records)

    def _set_hot_path(self, fitted: profile_fit.FittedModel) -> None:
        self._knots = list(fitted.knots)
        values = list(fitted.dense_at_knots)
        self._values = values
        self._slopes = [(values[i + 1] - values[i]) / (self._knots[i + 1] - self._knots[i])
                        for i in range(len(values) - 1)] + [fitted.final_slope]
        c = fitted.coefficients
        self._c_seq, self._c_pre, self._c_dec = c["seq"], c["pre"], c["dec"]
        self._c_prefill_step, self._c_read_step = c["prefill_step"], c["read_step"]
        self._c_pack, self._c_max = c["pack"], c["max"]
        self._swap_s_per_token = self.memory.kv_bytes_per_token / self.host_link_bytes_per_s
        # Beyond the largest prefill attention measured, a pair never costs less than the
        # arithmetic gives: attention FLOPs per pair at the rate the fitted GEMM slope implies
        # (seconds per token over dense FLOPs per token). A fit that left the attention terms
        # at zero (its grid too short to see them) would otherwise continue prefill as a line.
        # The fitted cost of a pair counts the packed term too (T * K is 2 pairs per causal
        # pair of one prompt).
        arithmetic_s_per_pair = (fitted.final_slope * self.model.attention_flops_per_pair
                                 / self.model.dense_flops_per_token)
        self._pre_measured = float(self.feats.attn_prefill.max(initial=0.0))
        self._c_pre_beyond = max(0.0, arithmetic_s_per_pair - self._c_pre - 2.0 * self._c_pack)

    def step_time_s(self, shape: StepShape) -> float:
        """Wall time in seconds of one step with this composition."""
        tokens = count = shape.decode_count
        pre = 0.0
        reads = count > 0
        kv = shape.decode_context_sum + count
        for new, cached in shape.prefill_chunks:
            tokens += new
            kv += new + cached
            pre += new * (cached + (new + 1) * 0.5)
            reads = reads or cached > 0
        swap = shape.swap_tokens * self._swap_s_per_token
        if tokens == 0:
            return swap
        i = bisect.bisect_right(self._knots, tokens) - 1
        t = (self._values[i] + self._slopes[i] * (tokens - self._knots[i])
             + (self._c_prefill_step if shape.prefill_chunks else 0.0) + (self._c_read_step if reads else 0.0)
             + self._c_seq * (len(shape.prefill_chunks) + count) + self._c_pre * pre
             + self._c_dec * (shape.decode_context_sum + count) + self._c_pack * tokens * kv
             + self._c_max * count * shape.decode_context_max)
        if pre > self._pre_measured:
            t += self._c_pre_beyond * (pre - self._pre_measured)
        return t + swap

    def decode_step_time_s(self, count: int, context_sum: int, context_max: int) -> float:
        """``step_time_s`` of a decode-only step, without building its StepShape: the same
        terms in the same order, so the same float."""
        if count == 0:
            return 0.0
        kv = context_sum + count
        i = bisect.bisect_right(self._knots, count) - 1
        t = (self._values[i] + self._slopes[i] * (count - self._knots[i]) + 0.0 + self._c_read_step
             + self._c_seq * count + self._c_pre * 0.0 + self._c_dec * kv
             + self._c_pack * count * kv + self._c_max * count * context_max)
        return t + 0.0

    def decode_run_times_s(self, count: int, context_sum: int, context_max: int,
                           steps: int) -> np.ndarray:
        """``decode_step_time_s`` of ``steps`` consecutive decode steps (context + j per
        sequence), vectorized."""
        if count == 0:
            return np.zeros(steps)
        i = bisect.bisect_right(self._knots, count) - 1
        base = (self._values[i] + self._slopes[i] * (count - self._knots[i]) + 0.0
                + self._c_read_step + self._c_seq * count + self._c_pre * 0.0)
        step = np.arange(steps, dtype=np.float64)
        kv = step * count + (context_sum + count)  # whole numbers far below 2**53: exact
        times_s = base + self._c_dec * kv
        times_s += (self._c_pack * count) * kv
        step += context_max
        times_s += (self._c_max * count) * step
        times_s += 0.0
        return times_s

    def held_out_error(self) -> dict:
        """Held-out absolute percentage error of the chosen form: form, mean, worst, points."""
        if self._report is None or self.fitted.form not in self._report:
            _, self._report = profile_fit.select_form(self.feats, self.times_s)
        return {"form": self.fitted.form, **self._report[self.fitted.form]}

    def held_out_report(self) -> dict:
        """Held-out errors of every candidate form."""
        if self._report is None or len(self._report) < len(profile_fit.CANDIDATES):
            _, self._report = profile_fit.select_form(self.feats, self.times_s)
        return dict(self._report)


def _model_from_meta(meta: dict, source: str) -> ModelSpec:
    model = meta["model"]
    if not isinstance(model, dict):
        raise ValueError(f"{source}: field 'model' must be a mapping of Hugging Face config fields")
    spec = ModelSpec.from_hf_config(model, name=str(model.get("name", "custom")))
    dtype_bytes = int(meta.get("dtype_bytes", spec.dtype_bytes))
    return ModelSpec(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__}, "dtype_bytes": dtype_bytes})


def _memory_from_meta(meta: dict, source: str) -> MemoryFacts:
    memory = meta["memory"]
    try:
        return MemoryFacts(gpu_memory_bytes=int(memory["gpu_memory_bytes"]),
                           weight_bytes=int(memory["weight_bytes"]),
                           kv_bytes_per_token=int(memory["kv_bytes_per_token"]),
                           reserved_bytes=int(memory.get("reserved_bytes", 0)))
    except (KeyError, TypeError) as error:
        raise ValueError(f"{source}: field 'memory' lacks or mistypes {error}") from None


def load_profile_cost_model(path_or_name: str) -> ProfileCostModel:
    """Load a profile directory or bundled name and fit its cost model."""
    path = resolve_profile_path(path_or_name)
    meta = read_meta(path)
    return ProfileCostModel(meta, read_steps(path), source=str(path / "profile.yaml"))


def fit_summary(records: list) -> dict:
    """The ``fit`` entry of profile.yaml: the form chosen by held-out error and every form's errors."""
    ok = [r for r in records if r.status == "ok"]
    if len(ok) < 8:
        return {"form": profile_fit.DEFAULT_CANDIDATE, "held_out": {}}
    form, report = profile_fit.select_form(profile_fit.record_features(ok), np.array([r.wall_s for r in ok]))
    return {"form": form, "held_out": report}


def refit_profile(path_or_name: str) -> dict:
    """Recompute and store a profile's fit summary (after a change to the model form); returns it."""
    path = resolve_profile_path(path_or_name)
    meta, records = read_meta(path), read_steps(path)
    meta["fit"] = fit_summary(records)
    write_profile(path, {k: v for k, v in meta.items() if k != "format"}, records)
    return meta["fit"]
