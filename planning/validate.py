"""Fidelity: re-simulate a recorded real-engine run and compare the metrics users read.

The simulated run uses the record's own arrival times and lengths and the policy and knobs that
mirror the engine's resolved configuration: transformers' continuous-batching engine (hf_cb) is
chunked prefill with its token budget, request cap, block size and block count; static batching
through ``generate`` (hf_static) is the static policy with the recorded batch size, dispatched as
soon as the engine is idle. Metrics follow vLLM's benchmark definitions, TTFT from arrival.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from batchsim.planning.records import Record
from batchsim.planning.scenario import Scenario, ScenarioRun, run_scenario
from batchsim.simulator.config import ServingConfig
from batchsim.simulator.hardware import GPUS
from batchsim.simulator.models import MODELS, ModelSpec
from batchsim.planning.costs import matching_profile
from batchsim.simulator.engine_match import record_settings
from batchsim.simulator.summary import request_table, weighted_percentile

# Profile modes that run steps the way each recorded engine does, best first: the CB engine's own
# step loop; generate() runs a plain eager forward on padded batches.
ENGINE_MODES = {"hf_cb": ("engine",), "hf_static": ("eager", "engine")}

METRICS = (
    ("output_throughput", "Output throughput (tok/s)"),
    ("ttft_p50", "TTFT P50 (ms)"), ("ttft_p90", "TTFT P90 (ms)"), ("ttft_p99", "TTFT P99 (ms)"),
    ("itl_p50", "ITL P50 (ms)"), ("itl_p99", "ITL P99 (ms)"),
    ("tpot_p50", "TPOT P50 (ms)"), ("tpot_p99", "TPOT P99 (ms)"),
    ("e2e_p50", "E2E P50 (ms)"), ("e2e_p90", "E2E P90 (ms)"), ("e2e_p99", "E2E P99 (ms)"),
)


@dataclass
class Comparison:
    """Real against simulated metrics for one record."""

    record: Record
    real: dict
    simulated: dict
    run: ScenarioRun

    def rows(self) -> list[dict]:
        """One row per metric with real, simulated and relative error."""
        out = []
        for key, label in METRICS:
            real, sim = self.real[key], self.simulated[key]
            error = (sim - real) / real if real else float("nan")
            out.append({"case": self.record.case, "metric": key, "label": label,
                        "real": real, "simulated": sim, "rel_error": error,
                        "step_time": self.run.summary["step_time"],
                        "profile_mismatch": "; ".join(self.run.summary["profile_mismatch"])})
        return out


def latency_metrics(arrival, first, last, n_out, itl_values, itl_weights=None) -> dict:
    """Throughput and latency percentiles (ms) from per-request times and inter-token gaps."""
    duration = float(np.max(last) - np.min(arrival)) if len(arrival) else 0.0
    ttft, e2e = (first - arrival) * 1e3, (last - arrival) * 1e3
    multi = n_out > 1
    tpot = (last[multi] - first[multi]) / (n_out[multi] - 1) * 1e3
    itl = np.asarray(itl_values, dtype=float) * 1e3
    weights = np.ones_like(itl) if itl_weights is None else np.asarray(itl_weights, dtype=float)
    pct = lambda values, q: float(np.percentile(values, q)) if len(values) else 0.0
    itl_pct = lambda q: weighted_percentile(itl, weights, q) if itl.size and weights.sum() else 0.0
    return {
        "output_throughput": float(n_out.sum()) / duration if duration > 0 else 0.0,
        "ttft_p50": pct(ttft, 50), "ttft_p90": pct(ttft, 90), "ttft_p99": pct(ttft, 99),
        "itl_p50": itl_pct(50), "itl_p99": itl_pct(99),
        "tpot_p50": pct(tpot, 50), "tpot_p99": pct(tpot, 99),
        "e2e_p50": pct(e2e, 50), "e2e_p90": pct(e2e, 90), "e2e_p99": pct(e2e, 99),
    }


def real_metrics(record: Record) -> dict:
    """Metrics of the recorded run."""
    reqs = [r for r in record.data["requests"] if r["token_times"]]
    arrival = np.array([r["arrival"] for r in reqs], dtype=float)
    first = np.array([r["token_times"][0] for r in reqs], dtype=float)
    last = np.array([r["token_times"][-1] for r in reqs], dtype=float)
    n_out = np.array([len(r["token_times"]) for r in reqs], dtype=np.int64)
    gaps = np.concatenate([np.diff(r["token_times"]) for r in reqs]) if reqs else np.array([])
    return latency_metrics(arrival, first, last, n_out, gaps)


def simulated_metrics(run: ScenarioRun) -> dict:
    """The same metrics from a simulated run."""
    table = request_table(run.result)
    done = table["finished"]
    recorder = run.result.recorder
    return latency_metrics(table["arrival_s"][done], table["first_token_s"][done],
                           table["finish_s"][done], table["output_tokens"][done],
                           np.frombuffer(recorder.itl_gap_s, dtype=np.float64),
                           np.frombuffer(recorder.itl_count, dtype=np.int64))


def model_name(config: dict) -> str:
    """Catalog name of the recorded model's shape, or 'custom'."""
    spec = ModelSpec.from_hf_config(config)
    for name, known in MODELS.items():
        if ModelSpec.from_hf_config(known.to_hf_config()) == ModelSpec.from_hf_config(
                spec.to_hf_config()):
            return name
    return "custom"


def gpu_name(text: str) -> str:
    """Catalog name of a GPU from its device name (e.g. 'NVIDIA H200' -> 'h200')."""
    lowered = text.lower()
    for name in GPUS:
        if name in lowered:
            return name
    raise ValueError(f"GPU '{text}' is not in the catalog ({', '.join(GPUS)}); pass --profile")


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


def scenario_for(record: Record, profile: str | None = None, step_time: str = "mean", seed: int = 0,
                 allow_profile_mismatch: bool = False) -> Scenario:
    """The scenario that re-simulates ``record``: the bundled profile measured under the record's
    engine configuration unless ``profile`` names one."""
    model = model_name(record.data["model_config"])
    gpu = gpu_name(record.data["gpu"])
    serving = serving_for(record)
    max_len = max(r["in"] + r["out"] for r in record.data["requests"])
    serving = replace(serving, max_model_len=max_len)
    engine = record_settings(record.engine, record.engine_config)
    if profile is None:
        run = {"block_size": serving.block_size, **engine}
        profile = matching_profile(gpu, model, run, ENGINE_MODES[record.engine])
    return Scenario(gpu=gpu, model=model, profile=profile, serving=serving, step_time=step_time, seed=seed,
                    engine=engine, allow_profile_mismatch=allow_profile_mismatch)


def compare(record: Record, profile: str | None = None, step_time: str = "mean", seed: int = 0,
            allow_profile_mismatch: bool = False) -> Comparison:
    """Simulate ``record`` and compare."""
    scenario = scenario_for(record, profile, step_time, seed, allow_profile_mismatch)
    run = run_scenario(scenario, record.trace_table())
    return Comparison(record, real_metrics(record), simulated_metrics(run), run)
