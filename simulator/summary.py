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

from batchsim.simulator.stability import stability
from batchsim.simulator.simulation import SimulationResult
from batchsim.simulator.weighted import weighted_percentiles

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


def _stats(name: str, values, percentiles) -> dict:
    """Mean, median, std and ``p{N}`` keys of one latency (``sketch`` values, in seconds)."""
    if values.count == 0:
        mean = std = 0.0  # vLLM: statistics of an empty list are taken as 0
        pct = {p: 0.0 for p in (50.0, *percentiles)}
    else:
        mean, std, values_ms = values.mean_std_percentiles_ms((50.0, *percentiles))
        pct = dict(zip((50.0, *percentiles), values_ms))
    out = {f"mean_{name}_ms": mean, f"median_{name}_ms": pct[50.0], f"std_{name}_ms": std}
    out.update({f"p{percentile_word(p)}_{name}_ms": pct[p] for p in percentiles})
    return out


def request_table(result: SimulationResult) -> dict[str, np.ndarray]:
    """Per-request columns (seconds), in request order, for summaries and requests.csv."""
    return result.recorder.request_table()


def summarize(result: SimulationResult, slo: Slo | None = None,
              percentiles: tuple[float, ...] = PERCENTILES,
              percentile_metrics: tuple[str, ...] = PERCENTILE_METRICS) -> dict:
    """The summary dictionary: vLLM benchmark keys plus batchsim's own.

    ``percentiles`` and ``percentile_metrics`` select the ``p{N}_{metric}_ms`` keys and the
    metrics that get mean/median/std/percentile keys, as vLLM's ``--metric-percentiles`` and
    ``--percentile-metrics`` do. Percentiles are exact while the run kept its values
    (``exact_percentiles``); otherwise they come from sketches within
    ``percentile_relative_error`` and ``sketched_metrics`` names them.
    """
    recorder = result.recorder
    stats = recorder.request_stats(slo)
    duration = stats.duration_s
    rate = (lambda x: x / duration) if duration > 0 else (lambda x: 0.0)
    completed, input_tokens, output_tokens = stats.completed, stats.input_tokens, stats.output_tokens
    goodput = None
    if slo and slo.is_set:
        if stats.slo != slo:
            raise ValueError("a streamed run counts goodput only for the objectives it was run with")
        goodput = rate(stats.good)
    summary = {
        "duration": duration, "completed": completed, "failed": stats.requests - completed,
        "total_input_tokens": input_tokens, "total_output_tokens": output_tokens,
        "request_throughput": rate(completed),
        "request_goodput": goodput,
        "output_throughput": rate(output_tokens),
        "total_token_throughput": rate(input_tokens + output_tokens),
        "max_output_tokens_per_s": recorder.peak_output_tokens_per_s(stats.origin_s),
        "max_concurrent_requests": stats.max_concurrent_requests,
    }
    latencies = dict(stats.latencies, itl=recorder.itl_values())
    for name in percentile_metrics:
        summary.update(_stats(name, latencies[name], percentiles))
    sketched = sorted(name for name in percentile_metrics if not latencies[name].exact)
    summary["exact_percentiles"] = not sketched
    summary["sketched_metrics"] = ",".join(sketched)
    summary["percentile_relative_error"] = max(
        (latencies[name].relative_error for name in percentile_metrics), default=0.0)
    summary.update(_batchsim_keys(result, stats, recorder.step_totals(), duration))
    summary.update(_stability(recorder))
    return summary


def _stability(recorder) -> dict:
    """The queue-growth verdict; a streamed run keeps no per-request table and says so."""
    if not recorder.keeps_requests:
        return {"verdict": "not judged (streamed run)", "queue_delay_by_third_ms": None,
                "backlog_growth": None}
    table = recorder.request_table()
    return stability(table["arrival_s"], table["queue_s"], table["finish_s"], table["finished"])


def _batchsim_keys(result: SimulationResult, stats, steps, duration: float) -> dict:
    replicas = len(result.replicas)
    kv_total = result.replicas[0].kv.total_blocks if result.replicas else 0
    return {
        "rejected": stats.requests - stats.completed,
        "rejected_reasons": stats.rejected_reasons,
        "preemptions": int(result.recorder.preemptions),
        "preempted_requests": stats.preempted_requests,
        "preemption_rate": stats.preempted_requests / stats.requests if stats.requests else 0.0,
        "replicas": replicas,
        "num_steps": steps.steps,
        "gpu_busy_fraction": steps.busy_s / (duration * replicas) if duration > 0 else 0.0,
        "slot_utilization": steps.sampled_tokens / steps.offered_slots if steps.offered_slots else 0.0,
        "mean_batch_size": steps.mean_batch_size,
        "max_batch_size": steps.max_seqs,
        "mean_prefill_tokens_per_step": (steps.prefill_tokens / steps.steps if steps.rows else 0.0),
        "kv_capacity_blocks": int(kv_total),
        "mean_kv_usage": steps.mean_kv_blocks / kv_total if steps.rows and kv_total else 0.0,
        "peak_kv_usage": (max(r.kv.peak_used_blocks for r in result.replicas) / kv_total
                          if kv_total else 0.0),
        "max_waiting": steps.max_waiting,
        "prefix_cache_hit_rate": _prefix_cache_hit_rate(result.replicas),
    }


def _prefix_cache_hit_rate(replicas) -> float | None:
    """vLLM's hit rate (hit tokens / queried tokens over every replica); None if uncached."""
    caches = [r.prefix_cache for r in replicas if r.prefix_cache is not None]  # or tallies
    if not caches:
        return None
    queried = sum(c.query_tokens for c in caches)
    return sum(c.hit_tokens for c in caches) / queried if queried else 0.0
