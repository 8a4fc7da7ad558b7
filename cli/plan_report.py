"""Plain-text and JSON renderings of a capacity plan."""
from __future__ import annotations

from batchsim.cli.tables import render_table
from batchsim.planning.costs import describe_cost_model, profile_mismatch
from batchsim.planning.scenario import Scenario, run_settings, step_time_mode
from batchsim.planning.pricing import autoscaling, fleet_cost
from batchsim.planning.slo import format_duration, format_slo

WIDTH = 78
EVIDENCE_ROWS = (
    ("Completed requests", "completed", "{:,}"),
    ("Rejected requests", "rejected", "{:,}"),
    ("Request throughput (req/s)", "request_throughput", "{:,.2f}"),
    ("Output token throughput (tok/s)", "output_throughput", "{:,.0f}"),
    ("P99 TTFT (ms)", "p99_ttft_ms", "{:,.1f}"),
    ("P99 TPOT (ms)", "p99_tpot_ms", "{:,.1f}"),
    ("P99 E2E latency (ms)", "p99_e2el_ms", "{:,.1f}"),
    ("Time busy running steps (fraction)", "gpu_busy_fraction", "{:.3f}"),
    ("Mean batch size in flight", "mean_batch_size", "{:.1f}"),
    ("Slot utilization (batch capacity used)", "slot_utilization", "{:.1%}"),
    ("Mean KV usage", "mean_kv_usage", "{:.1%}"),
    ("Peak KV usage", "peak_kv_usage", "{:.1%}"),
    ("Max requests waiting (one replica)", "max_waiting", "{:,}"),
    ("Preemptions", "preemptions", "{:,}"),
    ("Run verdict (queue growth)", "verdict", "{}"),
)


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _knob_count(result) -> str:
    """A knob candidate's replica count as the search established it."""
    if result.replicas is not None:
        return str(result.replicas)
    if result.at_least == 1:
        return "not searched (1 replica is the fewest possible)"
    if result.at_least is not None:
        return f"at least {result.at_least} (fails at {result.at_least - 1}; not searched further)"
    return "none up to the maximum"


def format_plan(plan, context: dict) -> str:
    """The plan report: answer, evidence at the count and one fewer, rate, cost, windows."""
    serving = plan.serving
    knobs = _knobs(serving)
    lines = [f"{' batchsim plan: ' + plan.policy + ' ':=^{WIDTH}}",
             f"{'Trace:':<14}{context['trace']}",
             f"{'Policy:':<14}{serving.policy} ({knobs}, block_size={serving.block_size}), "
             f"{serving.router} routing",
             f"{'Cost model:':<14}{describe_cost_model(plan.cost_model)}",
             f"{'Step times:':<14}{step_time_mode(plan.cost_model)}",
             *(f"{'MISMATCH:':<14}profile measured differently: {m}"
               for m in profile_mismatch(plan.cost_model, run_settings(Scenario(), serving))),
             f"{'Objectives:':<14}{format_slo(plan.objectives)} (over every request of the trace)",
             f"{'Answer:':<14}{plan.replicas} replica(s) x {plan.gpus_per_replica} GPU = "
             f"{plan.gpus} {context['gpu']} GPU(s)"]
    if plan.knobs_searched:
        tried = "; ".join(f"{' '.join(f'{k}={v:g}' for k, v in r.knobs.items())}: "
                          f"{_knob_count(r)}" for r in plan.knobs_searched)
        lines.append(f"{'Knobs tried:':<14}replicas needed by each: {tried}; kept the fewest "
                     f"(ties: the first)")
    lines += _evidence(plan)
    if plan.rate is None:
        lines.append("Highest sustainable rate: not bracketed between 1/10,000 and 10,000 "
                     "times the trace's rate")
    else:
        rate = plan.rate
        lines.append(f"Highest sustainable rate: {rate.meeting_rate_per_replica:,.3f} req/s per "
                     f"replica ({plan.replicas} replica(s) meet at {rate.meeting_scale:.3f}x the "
                     f"trace's rate, fail at {rate.failing_scale:.3f}x)")
        if rate.extrapolation:
            lines.append(f"  range at that rate: {rate.extrapolation['description']}")
    lines += _cost(plan, context)
    lines += _windows(plan, context)
    stopped = (f" ({plan.stopped_early} stopped early: enough requests had missed an objective "
               f"to settle that it fails)" if plan.stopped_early else "")
    lines.append(f"Simulations run: {plan.simulations}{stopped}")
    return "\n".join(lines)


def _evidence(plan) -> list[str]:
    columns = [(f"at {plan.replicas}", plan.at_count.summary)]
    if plan.below is not None:
        columns.append((f"at {plan.replicas - 1}", plan.below.summary))
    lines = [f"{'-' * WIDTH}", f"{'Evidence (full replays)':<40}" +
             "".join(f"{title:>19}" for title, _ in columns)]
    for objective in plan.objectives:
        cells = []
        for _, summary in columns:
            value = objective.observed_s(summary)
            mark = "ok" if objective.met_by(summary) else "FAIL"
            cells.append(f"{value * 1000:,.1f} {mark}")
        label = f"{objective.name} (ms, limit {format_duration(objective.limit_s)})"
        lines.append(f"{label:<40}" + "".join(f"{c:>19}" for c in cells))
    for label, key, fmt in EVIDENCE_ROWS:
        lines.append(f"{label:<40}" + "".join(f"{fmt.format(s[key]):>19}" for _, s in columns))
    lines.append(f"{'Measured range (share of steps out)':<40}"
                 + "".join(f"{range_cell(s.get('extrapolation')):>19}" for _, s in columns))
    if plan.below is None:
        lines.append("(one replica is the fewest possible, so there is no column below it)")
    entry = plan.at_count.summary.get("extrapolation")
    if entry:
        lines.append(f"Range at {plan.replicas}: {entry['description']}")
    reasons = plan.at_count.summary["rejected_reasons"]
    if reasons:
        listed = "; ".join(f"{reason}: {count}" for reason, count in reasons.items())
        lines.append(f"Rejected requests are left out of the percentiles ({listed})")
    lines.append("-" * WIDTH)
    return lines


def range_cell(entry: dict | None) -> str:
    """A short evidence cell: inside, unprofiled, or the largest ratio and share outside."""
    if not entry:
        return "n/a"
    if entry["status"] != "extrapolated":
        return {"unprofiled": "unprofiled", "within range": "inside"}[entry["status"]]
    ratio = entry["worst_ratio"]
    return f"{ratio:.2f}x ({entry['share_outside']:.1%})" if ratio is not None else "beyond"


def _cost(plan, context: dict) -> list[str]:
    cost = fleet_cost(plan, context["price"])
    if cost.per_hour is None:
        return ["Cost: not computed (give --gpu-cost-per-hour; batchsim has no built-in prices)"]
    return [f"Cost at {context['price']:,.2f} per GPU-hour: {_money(cost.per_hour)} per hour, "
            f"{_money(cost.per_million_output_tokens)} per million output tokens"]


def _windows(plan, context: dict) -> list[str]:
    if len(plan.windows) < 2:
        return ["Per-window requirement: trace fits in one window"] if context["window_s"] else []
    window_s = context["window_s"]
    peak = max(w.replicas for w in plan.windows)
    uniform = all(w.replicas == peak for w in plan.windows)
    lines = [f"Per {window_s / 60:g}-minute window (each replayed on its own, starting empty):",
             f"{'window':>8}{'start (s)':>11}{'requests':>10}{'req/s':>8}{'replicas':>10}  "
             + "  ".join(f"{o.name + ' (ms)':>15}" for o in plan.objectives)]
    for w in plan.windows:
        observed = "  ".join(f"{w.observed_s[o.name] * 1000:>15,.1f}" if w.observed_s
                             else f"{'-':>15}" for o in plan.objectives)
        flag = "  <- peak" if w.replicas == peak and not uniform else ""
        lines.append(f"{w.index:>8}{w.start_s:>11,.0f}{w.requests:>10,}{w.rate_per_s:>8.2f}"
                     f"{w.replicas:>10}  {observed}{flag}")
    if uniform:
        lines.append(f"Every window needs {peak} replica(s): no peak sets the count")
    scaling = autoscaling(plan, window_s)
    lines.append(f"GPU-hours: fixed at {plan.replicas} (whole-trace answer) "
                 f"{scaling.fixed_gpu_hours:,.2f}; fixed at the peak window's {peak} "
                 f"{scaling.peak_gpu_hours:,.2f}; autoscaled per window "
                 f"{scaling.autoscaled_gpu_hours:,.2f} ({scaling.saving_vs_peak:.0%} below the "
                 f"peak fleet, instant scaling assumed)")
    if context["price"] is not None:
        saved = (scaling.peak_gpu_hours - scaling.autoscaled_gpu_hours) * context["price"]
        lines.append(f"Autoscaling saves {_money(saved)} over the trace against the peak fleet")
    return lines


def _knobs(serving) -> str:
    if serving.policy == "static":
        return f"batch_size={serving.batch_size} max_wait_s={serving.max_wait_s:g}"
    return (f"max_num_seqs={serving.max_num_seqs} "
            f"max_num_batched_tokens={serving.max_num_batched_tokens}")


def format_comparison(plans, price: float | None, skipped=()) -> str:
    """One row per policy and layout: the GPUs each needs for the same objectives, and how full
    its batches ran at that count (mean batch size, slot utilization, run verdict)."""
    headers = ["policy", "TP", "knobs", "replicas", "GPUs", "rate/replica", "mean batch",
               "slot util", "verdict", "$/hour", "$/M out tok"]
    rows = []
    for plan in plans:
        cost = fleet_cost(plan, price)
        summary = plan.at_count.summary
        rate = f"{plan.rate.meeting_rate_per_replica:.3f}" if plan.rate else "n/a"
        knobs = _knobs(plan.serving).replace(" ", "\n")  # one knob a line: never cut mid-name
        rows.append([plan.policy, str(plan.gpus_per_replica), knobs,
                     str(plan.replicas), str(plan.gpus), rate, f"{summary['mean_batch_size']:.1f}",
                     f"{summary['slot_utilization']:.1%}", summary["verdict"],
                     _money(cost.per_hour), _money(cost.per_million_output_tokens)])
    lines = [f"{' layouts compared: same trace, same objectives ':=^{WIDTH}}",
             render_table(headers, rows, align="lrlrrrrrlrr")]
    lines += [f"{policy} TP {degree} skipped: {reason}" for policy, degree, reason in skipped]
    best = min(plans, key=lambda p: (p.gpus, p.gpus_per_replica))
    worst = max(plans, key=lambda p: p.gpus)
    lines.append(f"fewest GPUs: {best.policy}, {best.replicas} replica(s) x TP {best.gpus_per_replica}"
                 f" = {best.gpus} GPU(s)")
    if worst.gpus > best.gpus and worst.policy != best.policy:
        lines.append(f"{best.policy} needs {worst.gpus - best.gpus} fewer GPUs than "
                     f"{worst.policy} ({worst.gpus} -> {best.gpus}) for the same objectives")
    lines.append("mean batch: sequences per step, time-weighted; slot util: tokens sampled over "
                 "the batch capacity offered; verdict: how the queue grew (README, Metric "
                 "definitions)")
    return "\n".join(lines)


def plan_record(plan, price: float | None, window_s: float | None) -> dict:
    """The plan as a JSON-ready dictionary."""
    cost = fleet_cost(plan, price)
    scaling = autoscaling(plan, window_s) if window_s else None
    return {
        "policy": plan.policy, "replicas": plan.replicas, "gpus": plan.gpus,
        "gpus_per_replica": plan.gpus_per_replica,
        "objectives": {o.name: o.limit_s for o in plan.objectives},
        "at_count": plan.at_count.summary,
        "below": plan.below.summary if plan.below else None,
        "sustainable_rate": None if plan.rate is None else {
            "meeting_scale": plan.rate.meeting_scale, "failing_scale": plan.rate.failing_scale,
            "meeting_rate_per_replica": plan.rate.meeting_rate_per_replica,
            "failing_rate_per_replica": plan.rate.failing_rate_per_replica,
            "extrapolation": plan.rate.extrapolation},
        "extrapolation": plan.at_count.summary.get("extrapolation"),
        "cost": {"gpu_hour_price": price, "per_hour": cost.per_hour,
                 "per_million_output_tokens": cost.per_million_output_tokens},
        "windows": [{"index": w.index, "start_s": w.start_s, "end_s": w.end_s,
                     "requests": w.requests, "rate_per_s": w.rate_per_s,
                     "replicas": w.replicas, "observed_s": w.observed_s}
                    for w in plan.windows],
        "autoscaling": None if scaling is None else {
            "fixed_gpu_hours": scaling.fixed_gpu_hours, "peak_gpu_hours": scaling.peak_gpu_hours,
            "autoscaled_gpu_hours": scaling.autoscaled_gpu_hours},
        "knobs_searched": [{"knobs": r.knobs, "replicas": r.replicas,
                            "replicas_at_least": r.at_least} for r in plan.knobs_searched],
        "simulations": plan.simulations,
        "simulations_stopped_early": plan.stopped_early,
    }
