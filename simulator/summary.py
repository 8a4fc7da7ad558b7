"""Summary metrics with the definitions and key names of vLLM's serving benchmark.

TTFT: arrival to first token. TPOT: (E2E - TTFT) / (output tokens - 1), over requests with more
than one output token. ITL: every gap between consecutive tokens of a request. E2E: arrival to
last token. Percentiles interpolate linearly (numpy's default), as vLLM computes them; the
weighted ITL percentiles equal those of the expanded gap list. Duration runs from the first
arrival to the last finish. Latencies are reported in milliseconds under vLLM's ``*_ms`` keys.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from batchsim.simulator.peaks import peak_concurrent_requests, peak_output_tokens_per_s
from batchsim.simulator.request import FINISHED
from batchsim.simulator.stability import stability
from batchsim.simulator.simulation import SimulationResult
from batchsim.simulator.weighted import weighted_percentiles, weighted_stats

PERCENTILES = (50.0, 90.0, 99.0)  # vLLM's default is 99 alone; these are a superset
# vLLM's default is ttft,tpot,itl; batchsim adds e2el and its own queueing delay
PERCENTILE_METRICS = ("ttft", "tpot", "itl", "e2el", "queue")


@dataclass(frozen=True)
class Slo:
    """Per-request latency limits in seconds for goodput (parsed by planning.slo, the one SLO
    grammar); None means not set."""

    ttft_s: float | None = None
    tpot_s: float | None = None
    e2e_s: float | None = None

    @property
    def is_set(self) -> bool:
        """True if any objective is given."""
        return any(v is not None for v in (self.ttft_s, self.tpot_s, self.e2e_s))


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """np.percentile of ``values`` repeated ``weights`` times, without expanding them."""
    return weighted_percentiles(values, weights, (q,))[0]


def percentile_word(p: float) -> str:
    """vLLM's spelling of a percentile in key names: 99 -> '99', 99.9 -> '99.9'."""
    return str(int(p)) if int(p) == p else str(p)


def _stats(name: str, values_s: np.ndarray, percentiles, counts: np.ndarray | None = None) -> dict:
    if values_s.size == 0 or (counts is not None and counts.sum() == 0):
        mean = std = 0.0  # vLLM: statistics of an empty list are taken as 0
        pct = {p: 0.0 for p in (50.0, *percentiles)}
    elif counts is None:
        ms = values_s * 1000.0
        mean, std = float(ms.mean()), float(ms.std())
        pct = {p: float(np.percentile(ms, p)) for p in (50.0, *percentiles)}
    else:  # millions of (gap, count) pairs: computed in seconds, no scaled copy
        mean_s, std_s, pct_s = weighted_stats(values_s, counts, (50.0, *percentiles))
        mean, std = 1000.0 * mean_s, 1000.0 * std_s
        pct = {p: 1000.0 * x for p, x in zip((50.0, *percentiles), pct_s)}
    out = {f"mean_{name}_ms": mean, f"median_{name}_ms": pct[50.0], f"std_{name}_ms": std}
    out.update({f"p{percentile_word(p)}_{name}_ms": pct[p] for p in percentiles})
    return out


def request_table(result: SimulationResult) -> dict[str, np.ndarray]:
    """Per-request columns (seconds), in request order, for summaries and requests.csv."""
    reqs = result.requests
    nan = float("nan")
    arrival = np.fromiter((r.arrival_s for r in reqs), float, len(reqs))
    first = np.fromiter((nan if r.first_token_s is None else r.first_token_s for r in reqs), float, len(reqs))
    finish = np.fromiter((nan if r.finish_s is None else r.finish_s for r in reqs), float, len(reqs))
    admitted = np.fromiter((nan if r.admitted_s is None else r.admitted_s for r in reqs), float, len(reqs))
    out_tokens = np.fromiter((r.output_tokens for r in reqs), np.int64, len(reqs))
    finished = np.fromiter((r.status == FINISHED for r in reqs), bool, len(reqs))
    ttft = first - arrival
    e2e = finish - arrival
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(out_tokens > 1, (finish - first) / (out_tokens - 1), nan)
    return {
        "arrival_s": arrival, "first_token_s": first, "finish_s": finish,
        "prompt_tokens": np.fromiter((r.prompt_tokens for r in reqs), np.int64, len(reqs)),
        "output_tokens": out_tokens, "ttft_s": np.where(finished, ttft, nan),
        "tpot_s": np.where(finished, tpot, nan), "e2e_s": np.where(finished, e2e, nan),
        "queue_s": admitted - arrival,
        "preemptions": np.fromiter((r.preemptions for r in reqs), np.int64, len(reqs)),
        "finished": finished,
    }


def summarize(result: SimulationResult, slo: Slo | None = None,
              percentiles: tuple[float, ...] = PERCENTILES,
              percentile_metrics: tuple[str, ...] = PERCENTILE_METRICS) -> dict:
    """The summary dictionary: vLLM benchmark keys plus batchsim's own.

    ``percentiles`` and ``percentile_metrics`` select the ``p{N}_{metric}_ms`` keys and the
    metrics that get mean/median/std/percentile keys, as vLLM's ``--metric-percentiles`` and
    ``--percentile-metrics`` do.
    """
    table = request_table(result)
    done = table["finished"]
    steps = {k: np.frombuffer(v, dtype=np.float64 if k.endswith("_s") else np.int64)
             for k, v in result.recorder.steps.items()}
    start_s = float(table["arrival_s"].min()) if done.size else 0.0
    end_s = float(np.nanmax(table["finish_s"][done])) if done.any() else start_s
    duration = end_s - start_s
    rate = (lambda x: x / duration) if duration > 0 else (lambda x: 0.0)
    completed = int(done.sum())
    input_tokens = int(table["prompt_tokens"][done].sum())
    output_tokens = int(table["output_tokens"][done].sum())
    good = _good_requests(table, slo or Slo())
    summary = {
        "duration": duration, "completed": completed, "failed": int(done.size - completed),
        "total_input_tokens": input_tokens, "total_output_tokens": output_tokens,
        "request_throughput": rate(completed),
        "request_goodput": rate(good) if slo and slo.is_set else None,
        "output_throughput": rate(output_tokens),
        "total_token_throughput": rate(input_tokens + output_tokens),
        "max_output_tokens_per_s": peak_output_tokens_per_s(
            steps, float(table["arrival_s"][done].min()) if done.any() else 0.0),
        "max_concurrent_requests": peak_concurrent_requests(table["arrival_s"][done],
                                                            table["finish_s"][done]),
    }
    tpot = table["tpot_s"][done]
    values = {"ttft": (table["ttft_s"][done], None), "tpot": (tpot[~np.isnan(tpot)], None),
              "itl": (np.frombuffer(result.recorder.itl_gap_s, dtype=np.float64),
                      np.frombuffer(result.recorder.itl_count, dtype=np.int64)),
              "e2el": (table["e2e_s"][done], None), "queue": (table["queue_s"][done], None)}
    for name in percentile_metrics:
        summary.update(_stats(name, values[name][0], percentiles, values[name][1]))
    summary.update(_batchsim_keys(result, table, steps, duration))
    summary.update(stability(table["arrival_s"], table["queue_s"], table["finish_s"], done))
    return summary


def _good_requests(table: dict, slo: Slo) -> int:
    good = table["finished"].copy()
    if slo.ttft_s is not None:
        good &= table["ttft_s"] <= slo.ttft_s
    if slo.tpot_s is not None:
        good &= np.nan_to_num(table["tpot_s"], nan=0.0) <= slo.tpot_s
    if slo.e2e_s is not None:
        good &= table["e2e_s"] <= slo.e2e_s
    return int(good.sum())


def _batchsim_keys(result: SimulationResult, table: dict, steps: dict, duration: float) -> dict:
    reasons: dict[str, int] = {}
    for request in result.requests:
        if request.status != FINISHED:
            key = request.reason.split(":")[0] if request.reason else "unknown"
            reasons[key] = reasons.get(key, 0) + 1
    dur = steps["duration_s"]
    busy = float(dur.sum())
    replicas = len(result.replicas)
    weights = dur if busy > 0 else None
    kv_total = result.replicas[0].kv.total_blocks if result.replicas else 0
    offered = float((steps["slots"] * steps["steps"]).sum())
    preempted = table["preemptions"]
    return {
        "rejected": int(len(result.requests) - table["finished"].sum()),
        "rejected_reasons": reasons,
        "preemptions": int(result.recorder.preemptions),
        "preempted_requests": int((preempted > 0).sum()),
        "preemption_rate": float((preempted > 0).mean()) if preempted.size else 0.0,
        "replicas": replicas,
        "num_steps": int(steps["steps"].sum()),
        "gpu_busy_fraction": busy / (duration * replicas) if duration > 0 else 0.0,
        "slot_utilization": float(steps["sampled_tokens"].sum()) / offered if offered else 0.0,
        "mean_batch_size": float(np.average(steps["num_seqs"], weights=weights)) if dur.size else 0.0,
        "max_batch_size": int(steps["num_seqs"].max()) if dur.size else 0,
        "mean_prefill_tokens_per_step": (float(steps["prefill_tokens"].sum() / steps["steps"].sum())
                                         if dur.size else 0.0),
        "kv_capacity_blocks": int(kv_total),
        "mean_kv_usage": (float(np.average(steps["kv_blocks_used"], weights=weights)) / kv_total
                          if dur.size and kv_total else 0.0),
        "peak_kv_usage": (max(r.kv.peak_used_blocks for r in result.replicas) / kv_total
                          if kv_total else 0.0),
        "max_waiting": int(steps["waiting"].max()) if dur.size else 0,
        "prefix_cache_hit_rate": _prefix_cache_hit_rate(result.replicas),
    }


def _prefix_cache_hit_rate(replicas) -> float | None:
    """vLLM's hit rate (hit tokens / queried tokens over every replica); None if uncached."""
    caches = [r.prefix_cache for r in replicas if r.prefix_cache is not None]  # or tallies
    if not caches:
        return None
    queried = sum(c.query_tokens for c in caches)
    return sum(c.hit_tokens for c in caches) / queried if queried else 0.0
