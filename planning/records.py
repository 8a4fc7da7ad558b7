"""Recorded real-engine runs loaded for validation (format: traces/record_format.py).

``observed_run`` turns a record into the run validate re-simulates: transformers' continuous-
batching engine (hf_cb) is chunked prefill with its token budget, request cap, block size and
block count; static batching through ``generate`` (hf_static) is the static policy with the
recorded batch size. The model is the record's own config (matched to profiles by its shape),
the GPU the catalog entry its device name names. A request whose timestamps restarted after
preemption (fewer token times than tokens) keeps its tokens and last-token time; its first-token
time is unknown.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from batchsim.inputs import read_json
from batchsim.simulator.engine_match import record_settings
from batchsim.planning.observed import ObservedRun, requests_from_columns
from batchsim.simulator.config import ServingConfig
from batchsim.simulator.hardware import GPUS, GpuSpec
from batchsim.simulator.models import MODELS, ModelSpec
from batchsim.traces.record_format import validate_record

# Profile modes that run steps the way each recorded engine does, best first: the CB engine's own
# step loop; generate() runs a plain eager forward on padded batches.
ENGINE_MODES = {"hf_cb": ("engine",), "hf_static": ("eager", "engine")}


@dataclass
class Record:
    """One recorded run."""

    data: dict
    source: str

    @property
    def case(self) -> str:
        """The case name."""
        return self.data["case"]

    @property
    def engine(self) -> str:
        """hf_cb or hf_static."""
        return self.data["engine"]

    @property
    def engine_config(self) -> dict:
        """The engine's resolved knobs."""
        return self.data["engine_config"]

    def trace_table(self) -> pd.DataFrame:
        """The requests as a canonical trace; a request that stopped early asks for what it got."""
        reqs = sorted(self.data["requests"], key=lambda r: (r["arrival"], r["i"]))
        return pd.DataFrame({
            "arrival_s": np.array([r["arrival"] for r in reqs], dtype=float),
            "prompt_tokens": np.array([r["in"] for r in reqs], dtype=np.int64),
            "output_tokens": np.array([max(1, r["n_gen"]) for r in reqs], dtype=np.int64),
            "request_id": np.array([r["i"] for r in reqs], dtype=np.int64),
        })


def check_record(data, source: str = "record") -> None:
    """Raise ValueError naming the source and the first field that breaks the format."""
    try:
        validate_record(data, exact_lengths=False)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None


def load_record(path: str) -> Record:
    """Read and check one record file (JSON, safe parser)."""
    data = read_json(path, what="record JSON file")  # bounded, no NaN, nesting caught
    check_record(data, str(path))
    return Record(data, str(path))


def gpu_from_device_name(text: str, source: str = "record") -> GpuSpec:
    """Catalog GPU of a device name ('NVIDIA H200' -> h200, 'NVIDIA GeForce RTX 4090' -> rtx4090)."""
    squeezed = "".join(ch for ch in text.lower() if ch.isalnum())
    for name, spec in GPUS.items():
        if name in squeezed:
            return spec
    raise ValueError(f"{source}: GPU '{text}' is not in the catalog ({', '.join(GPUS)}); "
                     f"pass --gpu with a datasheet YAML")


def catalog_name(model: ModelSpec) -> str:
    """The first catalog model of the same cost shape, or the model's own name."""
    return next((name for name, spec in MODELS.items() if spec.cost_shape == model.cost_shape),
                model.name)


def serving_for(record: Record) -> ServingConfig:
    """The serving knobs that mirror the recorded engine."""
    knobs = record.engine_config
    try:
        if record.engine == "hf_static":
            return ServingConfig(policy="static", batch_size=int(knobs["batch_size"]))
        return ServingConfig(
            policy="chunked", max_num_batched_tokens=int(knobs["max_batch_tokens"]),
            max_num_seqs=int(knobs["max_requests_per_batch"]), block_size=int(knobs["block_size"]),
            kv_blocks=int(knobs["num_blocks"]), watermark=0.0)
    except KeyError as missing:
        raise ValueError(f"{record.source}: engine_config lacks '{missing.args[0]}'") from None


def observed_run(record: Record, gpu: GpuSpec | None = None) -> ObservedRun:
    """The run ``record`` describes, ready to re-simulate (see module docstring)."""
    reqs = record.data["requests"]
    times = [r["token_times"] for r in reqs]
    known = np.array([bool(t) and len(t) == r["n_gen"] for r, t in zip(reqs, times)])
    # the recorder keeps a preempted request's true first-token time beside its restarted list
    first = [r.get("first_token", t[0] if t else np.nan) for r, t in zip(reqs, times)]
    first_known = known | np.array(["first_token" in r for r in reqs], dtype=bool)
    requests = requests_from_columns(
        [r["i"] for r in reqs], [r["arrival"] for r in reqs],
        first, [t[-1] if t else np.nan for t in times],
        [r["in"] for r in reqs], [r["n_gen"] for r in reqs], first_known,
        itl_gaps_s=np.concatenate([np.diff(t) for t, ok in zip(times, known) if ok] or [[]]))
    model = ModelSpec.from_hf_config(record.data["model_config"], name="custom",
                                     source=f"{record.source}: model_config")
    model = replace(model, name=catalog_name(model))
    serving = replace(serving_for(record), max_model_len=max(r["in"] + r["out"] for r in reqs))
    notes = []
    if requests.restarted:
        notes.append(f"{requests.restarted} request(s) with timestamps restarted after preemption: "
                     f"counted in throughput and E2E, left out of TTFT, TPOT and ITL")
    recovered = int((first_known & ~known).sum())
    if recovered:
        notes.append(f"{recovered} request(s) with timestamps restarted after preemption and a first-token "
                     f"time from the recorder's step log: counted in throughput, E2E, TTFT and TPOT, "
                     f"left out of ITL")
    return ObservedRun(record.case, record.engine, record.source, requests, model,
                       gpu or gpu_from_device_name(record.data["gpu"], record.source), serving,
                       ENGINE_MODES[record.engine], tuple(notes),
                       engine_settings=record_settings(record.engine, record.engine_config))
