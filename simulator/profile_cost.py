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
import math
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
from batchsim.simulator.step_spread import fit_served_spread, fit_spread

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
    return next(iter(bundled_profiles_for(gpu, model, tp, modes)), None)


def bundled_profiles_for(gpu: str, model: str, tp: int = 1, modes: tuple[str, ...] = MODE_PREFERENCE) -> list[str]:
    """Every bundled profile measured on this GPU for this model's cost shape, in the order of
    ``modes`` (names sorted within a mode: an engine's default configuration sorts first)."""
    gpu_key = _alphanumeric(get_gpu(gpu).name)
    shape = shard_shape(get_model(model), tp)
    index = _bundled_index()
    return [name for mode in modes for name in sorted(index)
            if index[name][2] == mode and index[name][0] == shape and gpu_key in _alphanumeric(index[name][1])]


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
        self.q_pad, self.kv_pad = input_padding(meta)
        self.feats = profile_fit.record_features(self.records, self.q_pad, self.kv_pad)
        self.times_s = step_times_s(self.records)
        form = meta.get("fit", {}).get("form")
        if form not in profile_fit.CANDIDATES:
            form, self._report = profile_fit.select_form(self.feats, self.times_s)
        else:
            self._report = meta.get("fit", {}).get("held_out")
        self.fitted = profile_fit.fit(self.feats, self.times_s, form)
        # the measured repeats around the fitted prices (a served profile: its runs' steps in the
        # order they ran); None where the profile kept neither
        priced_s = profile_fit.predict(self.fitted, self.feats)
        served = meta.get("served_from") or {}
        _check_served_from(served, source, len(records))
        if served.get("steps_per_run") and len(self.records) == len(records):
            self.spread = fit_served_spread(self.times_s, priced_s, list(served["steps_per_run"]))
        else:
            self.spread = fit_spread(self.records, priced_s)
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
        dense, read, pad = tokens, kv, 0
        if self.q_pad > 1 or self.kv_pad > 1:  # the engine runs padded inputs (CUDA graphs)
            dense, read = -(-tokens // self.q_pad) * self.q_pad, -(-kv // self.kv_pad) * self.kv_pad
            pad = read - shape.decode_context_sum - count  # every step reads the padded KV (profile_fit.features_of)
        i = bisect.bisect_right(self._knots, dense) - 1
        t = (self._values[i] + self._slopes[i] * (dense - self._knots[i])
             + (self._c_prefill_step if shape.prefill_chunks else 0.0) + (self._c_read_step if reads else 0.0)
             + self._c_seq * (len(shape.prefill_chunks) + count) + self._c_pre * pre
             + self._c_dec * (shape.decode_context_sum + count + pad) + self._c_pack * dense * read
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
        dense, read, pad = count, kv, 0
        if self.q_pad > 1 or self.kv_pad > 1:  # the engine runs padded inputs (CUDA graphs)
            dense, read = -(-count // self.q_pad) * self.q_pad, -(-kv // self.kv_pad) * self.kv_pad
            pad = read - kv
        i = bisect.bisect_right(self._knots, dense) - 1
        t = (self._values[i] + self._slopes[i] * (dense - self._knots[i]) + 0.0 + self._c_read_step
             + self._c_seq * count + self._c_pre * 0.0 + self._c_dec * (kv + pad)
             + self._c_pack * dense * read + self._c_max * count * context_max)
        return t + 0.0

    def decode_run_times_s(self, count: int, context_sum: int, context_max: int,
                           steps: int) -> np.ndarray:
        """``decode_step_time_s`` of ``steps`` consecutive decode steps (context + j per
        sequence), vectorized."""
        if count == 0:
            return np.zeros(steps)
        dense = count if self.q_pad <= 1 else -(-count // self.q_pad) * self.q_pad
        i = bisect.bisect_right(self._knots, dense) - 1
        base = (self._values[i] + self._slopes[i] * (dense - self._knots[i]) + 0.0
                + self._c_read_step + self._c_seq * count + self._c_pre * 0.0)
        step = np.arange(steps, dtype=np.float64)
        kv = step * count + (context_sum + count)  # whole numbers far below 2**53: exact
        if self.kv_pad > 1:  # attention over the padded KV the engine's graphs run
            kv = np.ceil(kv / self.kv_pad) * self.kv_pad
        times_s = base + self._c_dec * kv
        times_s += (self._c_pack * dense) * kv
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


def _check_served_from(served, source: str, steps: int) -> None:
    """ValueError naming the key of a served profile's run bookkeeping that does not add up."""
    if not isinstance(served, dict):
        raise ValueError(f"{source}: served_from: must be a mapping")
    per_run = served.get("steps_per_run")
    if per_run is not None and (not isinstance(per_run, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in per_run) or sum(per_run) != steps):
        raise ValueError(f"{source}: served_from.steps_per_run: must be a list of positive whole "
                         f"numbers adding up to the {steps} steps")
    ratios = served.get("price_ratio_per_run")
    if ratios is not None and (not isinstance(ratios, list) or not all(
            isinstance(r, (int, float)) and not isinstance(r, bool) and 0 < r < math.inf for r in ratios)):
        raise ValueError(f"{source}: served_from.price_ratio_per_run: must be a list of positive numbers")


def input_padding(meta: dict) -> tuple[int, int]:
    """(query, KV) padding intervals of an engine that pads its inputs (for CUDA graphs), else (1, 1)."""
    engine = meta.get("engine") or {}
    if not engine.get("pads_inputs"):
        return 1, 1
    return int(engine.get("q_padding_interval_size") or 1), int(engine.get("kv_padding_interval_size") or 1)


def step_times_s(records: list) -> np.ndarray:
    """The time each measured step is priced at: the mean of its repeats where the profile kept it
    (a run's duration is a sum of step times, so means add up to it), else the median."""
    return np.array([r.wall_mean_or_median_s for r in records])


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


WORST_POINTS = 5


def fit_summary(records: list, padding: tuple[int, int] = (1, 1)) -> dict:
    """The ``fit`` entry of profile.yaml: the form chosen by held-out error, every form's errors,
    the chosen form's held-out error per region of the step space, and its worst points."""
    ok = [r for r in records if r.status == "ok"]
    if len(ok) < 8:
        return {"form": profile_fit.DEFAULT_CANDIDATE, "held_out": {}}
    feats, times_s = profile_fit.record_features(ok, *padding), step_times_s(ok)
    form, report = profile_fit.select_form(feats, times_s)
    predicted = profile_fit.held_out_predictions(feats, times_s, form)
    errors = 100.0 * (predicted / times_s - 1.0)
    worst = np.argsort(-np.nan_to_num(np.abs(errors), nan=-1.0))[:WORST_POINTS]
    return {"form": form, "held_out": report,
            "held_out_by_region": profile_fit.region_errors(feats, np.abs(errors)),
            "worst_points": [{"step": describe_step(ok[i]), "measured_ms": round(1e3 * float(times_s[i]), 3),
                              "predicted_ms": round(1e3 * float(predicted[i]), 3),
                              "error_pct": round(float(errors[i]), 2)} for i in worst if not np.isnan(errors[i])]}


def describe_step(record) -> str:
    """A step's composition in words: prefill chunks (new over cached) and decodes (count at mean context)."""
    parts = []
    if record.prefill_chunks:
        chunks = record.prefill_chunks
        same = all(c == chunks[0] for c in chunks)
        text = f"{chunks[0][0]} new" + (f" over {chunks[0][1]} cached" if chunks[0][1] else "")
        parts.append(f"{len(chunks)} x prefill {text}" if same and len(chunks) > 1 else
                     ("prefill " + text if same else f"{len(chunks)} prefill chunks, {sum(n for n, _ in chunks)} new"))
    if record.decode_count:
        mean_ctx = record.decode_context_sum // record.decode_count
        parts.append(f"{record.decode_count} decodes at context {mean_ctx} (max {record.decode_context_max})")
    return " + ".join(parts)


def refit_profile(path_or_name: str) -> dict:
    """Recompute and store a profile's fit summary (after a change to the model form); returns it."""
    path = resolve_profile_path(path_or_name)
    meta, records = read_meta(path), read_steps(path)
    meta["fit"] = fit_summary(records, input_padding(meta))
    write_profile(path, {k: v for k, v in meta.items() if k != "format"}, records)
    return meta["fit"]
