"""Plain-text report of a summary, laid out like vLLM's serving-benchmark printout."""
from __future__ import annotations

WIDTH = 64


def _row(label: str, value) -> str:
    if isinstance(value, float):
        value = f"{value:,.2f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{label:<42}{value:>22}"


def _thirds(summary: dict) -> str:
    thirds = summary.get("queue_delay_by_third_ms")
    return " / ".join(f"{value:,.1f}" for value in thirds) if thirds else "n/a"


def _section(title: str) -> str:
    return f"{' ' + title + ' ':-^{WIDTH}}"


def _range_section(entry: dict | None) -> list[str]:
    """Where the run stood against its profile's measured range (``--json``: ``extrapolation``)."""
    if not entry:
        return []
    lines = [_section("Measured range"), _row("Range:", entry["status"])]
    if entry["status"] == "unprofiled":
        return lines + ["unprofiled: roofline estimate (no measured step behind these numbers)"]
    lines.append(_row("Steps beyond the measured range:", f"{entry['share_outside']:.2%}"))
    for name, ratio in entry["largest_ratio"].items():
        shown = "unmeasured" if ratio is None else f"{ratio:.2f}x"
        lines.append(_row(f"Largest {name} / measured max:", shown))
    return lines


def _percentile_rows(summary: dict, key: str) -> list[tuple[str, float]]:
    """(percentile word, value) for every ``p{N}_{key}_ms`` the summary holds, by percentile."""
    rows = []
    for name, value in summary.items():
        word = name[1:-len(f"_{key}_ms")] if name.endswith(f"_{key}_ms") else ""
        if name.startswith("p") and word.replace(".", "", 1).isdigit():
            rows.append((float(word), word, value))
    return [(word, value) for _, word, value in sorted(rows)]


def format_report(summary: dict, context: list[tuple[str, str]]) -> str:
    """The report: context lines, throughput, latency sections, batchsim's own metrics."""
    lines = [f"{' batchsim replay ':=^{WIDTH}}"]
    lines += [f"{label + ':':<22}{value}" for label, value in context]
    lines.append(_section("Throughput"))
    lines += [
        _row("Successful requests:", summary["completed"]),
        _row("Failed (rejected) requests:", summary["failed"]),
        _row("Duration (s):", summary["duration"]),
        _row("Total input tokens:", summary["total_input_tokens"]),
        _row("Total generated tokens:", summary["total_output_tokens"]),
        _row("Request throughput (req/s):", summary["request_throughput"]),
        _row("Output token throughput (tok/s):", summary["output_throughput"]),
        _row("Peak output token throughput (tok/s):", summary["max_output_tokens_per_s"]),
        _row("Peak concurrent requests:", summary["max_concurrent_requests"]),
        _row("Total token throughput (tok/s):", summary["total_token_throughput"]),
    ]
    if summary.get("request_goodput") is not None:
        lines.append(_row("Request goodput (req/s):", summary["request_goodput"]))
    for key, title in (("ttft", "Time to First Token"), ("tpot", "Time per Output Token (excl. 1st token)"),
                       ("itl", "Inter-token Latency"), ("e2el", "End-to-end Latency"),
                       ("queue", "Queueing Delay")):
        if f"mean_{key}_ms" not in summary:
            continue  # not among --percentile-metrics
        name = {"queue": "queueing delay"}.get(key, key.upper())
        lines.append(_section(title))
        lines.append(_row(f"Mean {name} (ms):", summary[f"mean_{key}_ms"]))
        lines.append(_row(f"Median {name} (ms):", summary[f"median_{key}_ms"]))
        for word, value in _percentile_rows(summary, key):
            lines.append(_row(f"P{word} {name} (ms):", value))
    if not summary.get("exact_percentiles", True):
        lines.append(f"Percentiles of {summary['sketched_metrics'].replace(',', ', ')} from "
                     f"log-bucketed histograms (run too long to keep every value): within "
                     f"{summary['percentile_relative_error']:.0%} relative error")
    lines.append(_section("Replica"))
    lines += [
        _row("Run verdict (queue growth):", summary["verdict"]),
        _row("Mean queueing delay by third of arrivals (ms):", _thirds(summary)),
        _row("Time busy running steps (fraction):", summary["gpu_busy_fraction"]),
        _row("Slot utilization (batch capacity used):", summary["slot_utilization"]),
        _row("Mean / max batch size in flight:",
             f"{summary['mean_batch_size']:.1f} / {summary['max_batch_size']}"),
        _row("KV cache blocks per replica:", summary["kv_capacity_blocks"]),
        _row("Mean / peak KV usage:",
             f"{summary['mean_kv_usage']:.1%} / {summary['peak_kv_usage']:.1%}"),
    ]
    if summary.get("prefix_cache_hit_rate") is not None:
        lines.append(_row("Prefix cache hit rate (tokens):", f"{summary['prefix_cache_hit_rate']:.1%}"))
    lines += [
        _row("Preemptions (requests preempted):",
             f"{summary['preemptions']} ({summary['preempted_requests']})"),
        _row("Max requests waiting:", summary["max_waiting"]),
        _row("Simulated steps:", summary["num_steps"]),
    ]
    lines += _range_section(summary.get("extrapolation"))
    if summary["rejected_reasons"]:
        lines.append(_section("Rejected"))
        lines += [_row(reason + ":", count) for reason, count in summary["rejected_reasons"].items()]
    lines.append("=" * WIDTH)
    return "\n".join(lines)
