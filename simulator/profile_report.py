"""What ``batchsim profile show`` reports: environment, grid coverage, held-out error, CPU share, roofline.

The roofline floor of a step is the bytes it must read from HBM (all weights once, plus the KV
of every token it attends over) divided by the GPU's datasheet bandwidth, in seconds; measured
time over that floor says how far a step sits from the physical limit. CPU overhead is a step's
wall time minus its GPU forward time.
"""
from __future__ import annotations

import math
import statistics

from batchsim.simulator.hardware import GPUS, GpuSpec
from batchsim.simulator.profile_cost import ProfileCostModel, fit_summary
from batchsim.simulator.step import StepShape


def gpu_for(model: ProfileCostModel, name: str | None) -> GpuSpec | None:
    """The datasheet of ``name``, or of the profiled GPU when its name matches one we know."""
    if name:
        return GPUS[name.lower()]
    lowered = model.gpu_name.lower()
    return next((spec for key, spec in GPUS.items() if key in lowered), None)


def floor_s(model: ProfileCostModel, record, gpu: GpuSpec) -> float:
    """HBM-bandwidth floor of one profiled step."""
    kv_tokens = (sum(new + cached for new, cached in record.prefill_chunks)
                 + record.decode_context_sum + record.decode_count)
    return (model.memory.weight_bytes + kv_tokens * model.memory.kv_bytes_per_token) / gpu.hbm_bytes_per_s


def format_report(model: ProfileCostModel, gpu_name: str | None = None) -> str:
    """The multi-line text report of one profile."""
    env, mem = model.meta.get("environment", {}), model.meta["memory"]
    lines = [f"profile {model.name}: {model.model.name} in {model.mode} mode on {model.gpu_name}",
             "environment: " + ", ".join(f"{k}={env[k]}" for k in (
                 "driver", "cuda", "torch", "transformers", "attn_implementation", "sm_clock_before_mhz",
                 "sm_clock_after_mhz", "sm_clock_max_mhz", "power_limit_w") if k in env),
             f"throttling seen: {', '.join(env.get('throttle_reasons_seen') or []) or 'none'}",
             f"memory: weights {mem['weight_bytes'] / 2**30:.2f} GiB, KV {mem['kv_bytes_per_token'] / 1024:.0f} KiB/token, "
             f"free after load {mem.get('free_bytes_after_load', 0) / 2**30:.1f} GiB"
             + (f", KV capacity {mem['kv_capacity_blocks']} blocks of {mem['block_size']}" if "block_size" in mem else "")]
    if model.meta.get("engine"):
        lines.append("engine: " + ", ".join(f"{k}={v}" for k, v in model.meta["engine"].items()))
    lines += _coverage(model)
    held = model.held_out_error()
    lines.append(f"cost model form {held['form']}: held-out error mean {held['mean_ape_pct']:.2f}%, worst "
                 f"{held['worst_ape_pct']:.2f}% over {held['held_out_points']} points left out of the fit")
    lines += _regions(model)
    if model.spread is not None:
        chain = model.spread.describe()
        lines.append(f"step spread (--step-time sampled): slow steps {chain['slow_excess_ms'] - chain['fast_excess_ms']:+.1f} ms "
                     f"over fast ones, {100 * chain['slow_share']:.0f}% of steps, streaks of "
                     f"{chain['mean_slow_streak_steps']:.1f} slow / {chain['mean_fast_streak_steps']:.1f} fast steps "
                     f"({chain['samples']} repeats of {chain['steps']} steps)")
    else:
        lines.append("step spread: not kept (profile written before repeats were stored); --step-time sampled unavailable")
    lines += _overhead(model)
    gpu = gpu_for(model, gpu_name)
    if gpu:
        ratios = [r.wall_s / floor_s(model, r, gpu) for r in model.records if r.kind in ("decode", "skewed")]
        lines.append(f"decode steps take {min(ratios):.2f}x to {max(ratios):.2f}x their HBM roofline floor "
                     f"(weights + KV read at {gpu.hbm_bytes_per_s / 1e12:.2f} TB/s, {gpu.name} datasheet)")
    return "\n".join(lines)


def _coverage(model: ProfileCostModel) -> list[str]:
    lines = []
    for kind in ("prefill", "decode", "skewed", "mixed"):
        rows = [r for r in model.records if r.kind == kind]
        if rows:
            tokens = [r.num_tokens for r in rows]
            batch = [r.decode_count for r in rows]
            lines.append(f"grid {kind}: {len(rows)} points, tokens {min(tokens)}-{max(tokens)}, "
                         f"decodes {min(batch)}-{max(batch)}, contexts up to {max(r.decode_context_max for r in rows)}")
    grid = model.meta.get("grid", {})
    failed = grid.get("failed") or []
    lines.append(f"grid points failed: {len(failed)}" + (f" ({'; '.join(failed)})" if failed else "")
                 + f"; not run (time limit): {grid.get('not_run_time_limit', 0)}")
    return lines


def _regions(model: ProfileCostModel) -> list[str]:
    fit = model.meta.get("fit") or {}
    if "held_out_by_region" not in fit:
        fit = fit_summary(model.records, (model.q_pad, model.kv_pad))
    lines = ["held-out error by region (points, mean, worst):"]
    lines += [f"  {region:14s} {r['held_out_points']:3d}  {r['mean_ape_pct']:6.2f}%  {r['worst_ape_pct']:6.2f}%"
              for region, r in fit["held_out_by_region"].items()]
    lines.append("worst held-out points:")
    lines += [f"  {p['error_pct']:+7.2f}%  {p['step']}: measured {p['measured_ms']:.1f} ms, "
              f"predicted {p['predicted_ms']:.1f} ms" for p in fit["worst_points"]]
    return lines


def _overhead(model: ProfileCostModel) -> list[str]:
    lines = []
    for kind in ("prefill", "decode", "mixed"):
        rows = [r for r in model.records if r.kind == kind]
        if rows:
            gap_ms = statistics.median((r.wall_s - r.gpu_s) * 1e3 for r in rows)
            share = statistics.median((r.wall_s - r.gpu_s) / r.wall_s * 100 for r in rows)
            lines.append(f"CPU overhead ({kind}): median {gap_ms:.2f} ms a step, {share:.1f}% of the step")
    return lines


def compute_floor_s(model: ProfileCostModel, record, gpu: GpuSpec) -> float:
    """Dense-matmul compute floor of one step: 2 FLOPs per weight per token at the datasheet's
    bf16 peak (attention adds more, so the true floor is higher still)."""
    params = model.memory.weight_bytes / model.model.dtype_bytes
    return 2.0 * params * record.num_tokens / gpu.bf16_flops


def fitted_s(model: ProfileCostModel, record) -> float:
    """The fitted cost model's time for a profiled step's composition."""
    return model.step_time_s(StepShape(tuple(record.prefill_chunks), record.decode_count,
                                       record.decode_context_sum, record.decode_context_max))


def profile_figure(model: ProfileCostModel, gpu_name: str | None = None):
    """Measured step times with the fitted model over them and the physical floor that binds:
    HBM bandwidth for decode steps (they read every weight for a few tokens), compute for
    prefill steps (thousands of tokens per weight read)."""
    from matplotlib.figure import Figure

    gpu = gpu_for(model, gpu_name)
    figure = Figure(figsize=(11, 4.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    decodes = [r for r in model.records if r.kind == "decode"]
    bucket = lambda r: 2 ** round(math.log2(max(1.0, r.decode_context_sum / r.decode_count)))  # noqa: E731
    for ctx in sorted({bucket(r) for r in decodes}):
        rows = sorted((r for r in decodes if bucket(r) == ctx), key=lambda r: r.decode_count)
        if len(rows) < 2:
            continue
        x = [r.decode_count for r in rows]
        line, = left.plot(x, [r.wall_s * 1e3 for r in rows], "o", label=f"ctx ~{ctx}")
        left.plot(x, [fitted_s(model, r) * 1e3 for r in rows], "-", color=line.get_color())
        if gpu:
            left.plot(x, [floor_s(model, r, gpu) * 1e3 for r in rows], ":", color=line.get_color())
    left.set(xscale="log", yscale="log", xlabel="decode batch size", ylabel="step time (ms)",
             title="decode: measured (dots), fit (solid), HBM floor (dotted)")
    left.legend(fontsize=7)
    prefill = sorted((r for r in model.records if r.kind == "prefill" and len(r.prefill_chunks) == 1
                      and r.prefill_chunks[0][1] == 0), key=lambda r: r.num_tokens)
    x = [r.num_tokens for r in prefill]
    right.plot(x, [r.wall_s * 1e3 for r in prefill], "o", label="measured")
    right.plot(x, [fitted_s(model, r) * 1e3 for r in prefill], "-", label="fitted model")
    if gpu:
        right.plot(x, [compute_floor_s(model, r, gpu) * 1e3 for r in prefill], ":",
                   label="compute floor (bf16 peak)")
    right.set(xscale="log", yscale="log", xlabel="prompt tokens (one prompt)", ylabel="step time (ms)",
              title="prefill: measured, fit and compute floor")
    right.legend(fontsize=7)
    figure.suptitle(f"{model.name} ({model.gpu_name})" + (f", floors from the {gpu.name} datasheet"
                                                            if gpu else ""))
    return figure


def plot(model: ProfileCostModel, path: str, gpu_name: str | None = None) -> None:
    """Write ``profile_figure`` to ``path``."""
    profile_figure(model, gpu_name).savefig(path, dpi=110)
