"""Fidelity: re-simulate a recorded real-engine run and compare the metrics users read.

The simulated run uses the run's own arrival times and lengths, its model and GPU, and the
policy and knobs that mirror the engine's resolved configuration (planning.records for our
records, planning.vllm_runs for vLLM runs). Metrics follow vLLM's benchmark definitions, TTFT
from arrival; a request whose first-token time is unknown (timestamps restarted after
preemption) counts for throughput and E2E only. A metric the run did not record (vLLM runs keep
no per-token times, so no ITL) is left out of the comparison.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from batchsim.planning.observed import ObservedRequests, ObservedRun
from batchsim.planning.records import Record, observed_run, serving_for  # noqa: F401 (API)
from batchsim.planning.scenario import Scenario, ScenarioRun, run_scenario
from batchsim.planning.costs import matching_profile
from batchsim.simulator.summary import request_table, weighted_percentile

METRICS = (
    ("output_throughput", "Output throughput (tok/s)"),
    ("ttft_mean", "TTFT mean (ms)"), ("ttft_p50", "TTFT P50 (ms)"), ("ttft_p90", "TTFT P90 (ms)"),
    ("ttft_p99", "TTFT P99 (ms)"),
    ("itl_p50", "ITL P50 (ms)"), ("itl_p99", "ITL P99 (ms)"),
    ("tpot_mean", "TPOT mean (ms)"), ("tpot_p50", "TPOT P50 (ms)"), ("tpot_p99", "TPOT P99 (ms)"),
    ("e2e_mean", "E2E mean (ms)"), ("e2e_p50", "E2E P50 (ms)"), ("e2e_p90", "E2E P90 (ms)"),
    ("e2e_p99", "E2E P99 (ms)"),
)


@dataclass
class Comparison:
    """Real against simulated metrics for one run."""

    record: ObservedRun
    real: dict
    simulated: dict
    run: ScenarioRun

    def rows(self) -> list[dict]:
        """One row per metric the run recorded, with real, simulated and relative error."""
        out = []
        for key, label in METRICS:
            if key not in self.real:
                continue
            real, sim = self.real[key], self.simulated[key]
            error = (sim - real) / real if real else float("nan")
            out.append({"case": self.record.case, "metric": key, "label": label,
                        "real": real, "simulated": sim, "rel_error": error,
                        "step_time": self.run.summary["step_time"],
                        "profile_mismatch": "; ".join(self.run.summary["profile_mismatch"])})
        return out


def _pct(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else 0.0


def latency_metrics(arrival, first, last, n_out, itl_values=None, itl_weights=None,
                    first_known=None) -> dict:
    """Throughput and latency means and percentiles (ms) from per-request times.

    ``first_known`` marks requests whose first-token time is trustworthy (default all);
    ``itl_values`` None leaves ITL out."""
    finished = ~np.isnan(last)
    first_known = finished if first_known is None else (np.asarray(first_known, bool) & finished)
    duration = float(np.max(last[finished]) - np.min(arrival)) if finished.any() else 0.0
    ttft = (first[first_known] - arrival[first_known]) * 1e3
    e2e = (last[finished] - arrival[finished]) * 1e3
    multi = first_known & (n_out > 1)
    tpot = (last[multi] - first[multi]) / (n_out[multi] - 1) * 1e3
    mean = lambda values: float(np.mean(values)) if len(values) else 0.0
    metrics = {
        "output_throughput": float(n_out[finished].sum()) / duration if duration > 0 else 0.0,
        "ttft_mean": mean(ttft), "ttft_p50": _pct(ttft, 50), "ttft_p90": _pct(ttft, 90),
        "ttft_p99": _pct(ttft, 99),
        "tpot_mean": mean(tpot), "tpot_p50": _pct(tpot, 50), "tpot_p99": _pct(tpot, 99),
        "e2e_mean": mean(e2e), "e2e_p50": _pct(e2e, 50), "e2e_p90": _pct(e2e, 90),
        "e2e_p99": _pct(e2e, 99),
    }
    if itl_values is not None:
        itl = np.asarray(itl_values, dtype=float) * 1e3
        weights = np.ones_like(itl) if itl_weights is None else np.asarray(itl_weights, dtype=float)
        itl_pct = lambda q: weighted_percentile(itl, weights, q) if itl.size and weights.sum() else 0.0
        metrics.update(itl_p50=itl_pct(50), itl_p99=itl_pct(99))
    return metrics


def observed_metrics(requests: ObservedRequests) -> dict:
    """Metrics of a real run's requests."""
    return latency_metrics(requests.arrival_s, requests.first_token_s, requests.last_token_s,
                           requests.output_tokens, requests.itl_gaps_s,
                           first_known=requests.first_token_known)


def real_metrics(record) -> dict:
    """Metrics of a recorded run (a Record or an ObservedRun)."""
    run = observed_run(record) if isinstance(record, Record) else record
    return observed_metrics(run.requests)


def simulated_metrics(run: ScenarioRun, with_itl: bool = True, unknown_first_ids=()) -> dict:
    """The same metrics from a simulated run; requests in ``unknown_first_ids`` (first token
    unknown in the real run) are left out of TTFT and TPOT here too, so like meets like."""
    table = request_table(run.result)
    done = table["finished"]
    ids = table["request_id"]
    known = ~np.isin(ids, np.asarray(unknown_first_ids, dtype=np.int64))
    itl = run.result.recorder.itl_values()  # exact: a recorded run is far below the sketch size
    return latency_metrics(table["arrival_s"][done], table["first_token_s"][done],
                           table["finish_s"][done], table["output_tokens"][done],
                           itl.values_s if with_itl else None,
                           itl.counts if with_itl else None, first_known=known[done])


def scenario_for(run: ObservedRun, profile: str | None = None, step_time: str = "mean", seed: int = 0,
                 allow_profile_mismatch: bool = False) -> Scenario:
    """The scenario that re-simulates ``run``: its own model, GPU and mirrored knobs, on the
    bundled profile measured under its engine configuration unless ``profile`` names one."""
    engine = run.engine_settings
    if profile is None:
        run_config = {"block_size": run.serving.block_size, **engine}
        if run.serving.max_num_batched_tokens and run.serving.policy != "static":
            run_config["max_batch_tokens"] = run.serving.max_num_batched_tokens
        profile = matching_profile(run.gpu, run.model, run_config, run.profile_modes)
    return Scenario(gpu=run.gpu, model=run.model, profile=profile, serving=run.serving, step_time=step_time,
                    seed=seed, engine=engine or None, allow_profile_mismatch=allow_profile_mismatch)


def compare(record, profile: str | None = None, cost_model=None, step_time: str = "mean", seed: int = 0,
            allow_profile_mismatch: bool = False) -> Comparison:
    """Simulate ``record`` (a Record or an ObservedRun) and compare; ``cost_model`` overrides
    the profile (calibration passes its own)."""
    run = observed_run(record) if isinstance(record, Record) else record
    scenario = scenario_for(run, profile if cost_model is None else "roofline", step_time, seed,
                            allow_profile_mismatch)
    outcome = run_scenario(scenario, run.trace_table(), cost_model)
    real = observed_metrics(run.requests)
    unknown = run.requests.request_id[~run.requests.first_token_known]
    return Comparison(run, real, simulated_metrics(outcome, "itl_p50" in real, unknown), outcome)
