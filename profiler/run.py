"""Profile a model on one device and write the profile (``python -m batchsim.profiler.run`` or ``batchsim profile``).

Builds the model with random weights (our ``DenseLlama`` for cuda-graph mode, the Hugging Face
model for engine mode and for eager mode, which times ``generate`` as the static-batching engine
runs it), stamps the environment, times the grid, fits the cost model form by held-out error
(numpy, ``simulator.profile_fit``) and writes ``profile.yaml`` and ``steps.csv`` (and ``depths.csv``
when steps are timed at reduced depth and scaled, ``profiler.depth``). With ``--tp T`` the model
is one Megatron shard (``simulator.tensor_parallel.shard_spec``) and memory facts are per GPU.
Progress goes to a ``log`` callable; nothing here prints by itself.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from batchsim.profiler.dense_model import build_dense_model
from batchsim.profiler.dense_runner import DenseRunner
from batchsim.profiler.depth import DepthPlan, check_errors, full_depth_rows, time_point
from batchsim.profiler.environment import GpuMonitor, host_link_bytes_per_s, host_speed_stamp, memory_facts, software_stamp
from batchsim.profiler.grid import build_grid, build_static_grid, serving_points
from batchsim.profiler.options import add_profile_arguments, parse_engine_options
from batchsim.simulator.models import ModelSpec, get_model
from batchsim.simulator.profile_cost import fit_summary, input_padding
from batchsim.simulator.profile_format import write_depth_rows, write_profile
from batchsim.simulator.tensor_parallel import shard_spec

TORCH_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
EAGER_MAX_KV_TOKENS = 33_000  # generate's padded batches: B x P up to 32 x 1024, 8 x 4096, 4 x 8192
ENGINE_MAX_KV_TOKENS = 270_000  # a quarter of a million KV tokens in one step: served load
ENGINE_MAX_PACKED_PAIRS = 1_000_000_000


def resolve_spec(model: str | None, config_path: str | None, dtype: str, tp: int = 1) -> ModelSpec:
    """The ModelSpec (one shard of it under tensor parallelism) with the dtype's bytes."""
    if bool(model) == bool(config_path):
        raise ValueError("give exactly one of --model or --config")
    if config_path:
        with open(config_path) as handle:
            spec = ModelSpec.from_hf_config(json.load(handle), name=Path(config_path).parent.name or "custom")
    else:
        spec = get_model(model)
    return shard_spec(replace(spec, dtype_bytes=TORCH_DTYPES[dtype].itemsize), tp)


def build_hf_model(spec: ModelSpec, device: torch.device, dtype: torch.dtype):
    """The Hugging Face Llama model of ``spec`` with random weights on ``device``."""
    from transformers import AutoModelForCausalLM, LlamaConfig
    config = LlamaConfig(**{k: v for k, v in spec.to_hf_config().items() if k not in ("architectures", "model_type")},
                         rope_theta=500000.0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval()


def profile(args: argparse.Namespace, log=lambda line: None) -> Path:
    """Run a whole profile as the parsed options say; returns the output directory."""
    if not args.out:
        raise ValueError("--out is required")
    if args.layers and args.mode != "cuda-graph":
        raise ValueError("--layers (reduced-depth timing) needs --mode cuda-graph")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    spec = resolve_spec(args.model, args.config, args.dtype, args.tp)
    monitor = GpuMonitor(device)
    env = {**monitor.stamp(), **software_stamp(), **host_speed_stamp(device),
           "sm_clock_before_mhz": monitor.sm_clock_mhz()}
    link = host_link_bytes_per_s(device)
    started = time.perf_counter()
    setup = {"engine": _engine_setup, "eager": _eager_setup, "cuda-graph": _dense_setup}[args.mode]
    runner, grid, memory, engine, plan = setup(args, spec, device, env)
    grid = grid[args.resume_from:]
    if not grid:
        raise ValueError(f"--resume-from {args.resume_from} skips every grid point")
    runner.run_point(grid[0])  # warm-up: first-use allocations and kernel selection stay out of the grid
    log(f"{spec.name} {args.mode} on {env['gpu_name']}: {len(grid)} grid points, load {time.perf_counter() - started:.0f}s")
    steps, depth_rows, skipped = [], [], 0
    for i, point in enumerate(grid):
        if args.time_limit and time.perf_counter() - started > args.time_limit:
            skipped = len(grid) - i
            log(f"time limit reached: {skipped} grid points not run")
            break
        check = ""
        if getattr(runner, "use_budget", None) and runner.use_budget(point.budget):
            runner.run_point(point)  # a reopened engine: first-use costs stay out of the grid
            resolved = runner.resolved_config()
            log(f"engine reopened: max_batch_tokens {resolved['max_batch_tokens']}, num_blocks {resolved['num_blocks']}")
        if plan:
            record, rows = time_point(runner, point, plan, i)
            depth_rows += rows
            if rows[-1][0] == plan.full and rows[-1][1].status == "ok":
                check = f" full={rows[-1][1].wall_s * 1e3:.3f}ms ({100 * (record.wall_s / rows[-1][1].wall_s - 1):+.2f}%)"
        else:
            record = runner.run_point(point)
        monitor.sample_throttle()
        steps.append(record)
        log(f"[{i + 1}/{len(grid)}] {point.kind:8s} T={point.num_tokens:<6d} ctx={point.kv_tokens:<7d} "
            f"wall={record.wall_s * 1e3:8.3f}ms gpu={record.gpu_s * 1e3:8.3f}ms {record.status}{check} {record.note}")
    env.update(sm_clock_after_mhz=monitor.sm_clock_mhz(), throttle_reasons_seen=sorted(monitor.reasons_seen))
    measured = full_depth_rows(depth_rows, plan.full, len(steps)) if plan else None
    steps = measured or steps
    meta = _meta(args, spec, env, memory, engine, link, steps, time.perf_counter() - started)
    meta["grid"]["not_run_time_limit"] = skipped
    if args.resume_from:
        meta["grid"]["resumed_from"] = args.resume_from
    if plan:
        meta["depth_scaling"] = {**_depth_summary(plan, depth_rows),
                                 "steps_csv": "measured at full depth" if measured else "scaled to full depth"}
    out = write_profile(args.out, meta, steps)
    if plan:
        write_depth_rows(out, depth_rows)
    log(f"wrote {out} in {time.perf_counter() - started:.0f}s; fit {meta['fit']['form']}")
    return out


def _engine_setup(args, spec, device, env):
    from batchsim.profiler.engine_runner import EngineRunner  # needs transformers' continuous batching
    model = build_hf_model(spec, device, TORCH_DTYPES[args.dtype])
    memory = _memory(model, device, spec)  # before the engine takes its KV cache
    runner = EngineRunner(model, args.repeats, args.warmup, overrides=parse_engine_options(args.engine_option),
                          fixed_kv=args.engine_kv == "fixed")
    engine = runner.resolved_config()
    env["attn_implementation"] = engine["attn_implementation"]
    memory.update(block_size=engine["block_size"], kv_capacity_blocks=engine["num_blocks"])
    kv_capacity = engine["num_blocks"] * engine["block_size"]
    kv_bound = min(kv_capacity * 8 // 10, args.max_kv_tokens or ENGINE_MAX_KV_TOKENS)  # points prefill their context first
    budget, context = engine["max_batch_tokens"], spec.max_position_embeddings
    grid = build_grid(budget, context, kv_bound, quick=args.quick, cached_multiple=budget,
                      decode_batches=args.decode_batches, decode_contexts=args.decode_contexts)
    if not (args.quick or args.decode_batches or args.decode_contexts):
        grid += serving_points(budget, context, kv_bound)
        # a step of over 1e9 query-key pairs takes seconds in paged sdpa; its neighbours bound it
        grid = [p for p in grid if p.num_tokens * p.kv_tokens <= ENGINE_MAX_PACKED_PAIRS]
    # smaller budgets first (each reopens the engine once), then the profile's own
    grid = _only(args.kinds, sorted(grid, key=lambda p: p.budget or budget))
    engine["max_batch_tokens_profiled"] = sorted({p.budget or budget for p in grid})
    return runner, grid, memory, engine, None


def _eager_setup(args, spec, device, env):
    from batchsim.profiler.generate_runner import GenerateRunner
    from batchsim.profiler.hf_model import build_model
    model = build_model(spec, device=str(device), dtype=TORCH_DTYPES[args.dtype])
    memory = _memory(model, device, spec)
    env["attn_implementation"] = "sdpa (generate, DynamicCache, left-padded batches)"
    grid = _only(args.kinds, build_static_grid(spec.max_position_embeddings, args.max_kv_tokens or EAGER_MAX_KV_TOKENS,
                                               quick=args.quick))
    return GenerateRunner(model, args.repeats, args.warmup), grid, memory, None, None


def _dense_setup(args, spec, device, env):
    built = spec.num_hidden_layers
    if args.layers:  # reduced depth: the full model only when full-depth checks need it
        built = spec.num_hidden_layers if args.full_depth_check else max(args.layers)
    model = build_dense_model(spec, device, TORCH_DTYPES[args.dtype], spec.max_position_embeddings + 64,
                              built_layers=built)
    memory = _memory(model, device, spec)
    missing_bytes = (spec.num_hidden_layers - built) * spec.layer_params * spec.dtype_bytes
    if missing_bytes:  # layers never built: count their weights as if they were
        memory.update(weight_bytes=memory["weight_bytes"] + missing_bytes,
                      free_bytes_after_load=max(0, memory["free_bytes_after_load"] - missing_bytes))
    kv_capacity = memory["free_bytes_after_load"] // spec.kv_bytes_per_token // 2 if device.type == "cuda" else 1 << 14
    kv_bound = min(kv_capacity * 8 // 10, args.max_kv_tokens or 300_000)
    grid = _only(args.kinds, build_grid(8192, spec.max_position_embeddings, kv_bound, quick=args.quick,
                                        decode_batches=args.decode_batches, decode_contexts=args.decode_contexts))
    plan = DepthPlan.from_options(args.layers, spec.num_hidden_layers, args.full_depth_check,
                                  len(grid)) if args.layers else None
    env["attn_implementation"] = "torch sdpa (per sequence group)"
    return DenseRunner(model, args.mode, args.repeats, args.warmup), grid, memory, None, plan


def _only(kinds: tuple[str, ...] | None, grid: list) -> list:
    """The grid points of the asked kinds (all without ``--kinds``)."""
    if not kinds:
        return grid
    kept = [point for point in grid if point.kind in kinds]
    if not kept:
        raise ValueError(f"no grid point of kind {', '.join(kinds)} in this mode's grid")
    return kept


def _depth_summary(plan: DepthPlan, rows) -> dict:
    errors = check_errors(rows, plan.full)
    summary = {"layers_timed": list(plan.depths), "full_layers": plan.full,
               "rule": "least-squares line through the timed depths, evaluated at full depth",
               "check_points": len(errors)}
    if errors:
        summary.update(check_mean_abs_error_pct=round(sum(abs(e) for e in errors) / len(errors), 3),
                       check_worst_abs_error_pct=round(max(abs(e) for e in errors), 3),
                       check_errors_pct=[round(e, 3) for e in errors])
    return summary


def _memory(model, device: torch.device, spec: ModelSpec) -> dict:
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return memory_facts(device, weight_bytes, spec.kv_bytes_per_token)


def _meta(args, spec, env, memory, engine, link, steps, elapsed_s) -> dict:
    ok = [s for s in steps if s.status == "ok"]
    model = {"name": spec.name, **{k: v for k, v in spec.to_hf_config().items() if k not in ("architectures",)}}
    failed = [f"{s.kind} {s.status}: {s.note}" for s in steps if s.status != "ok"]
    meta = {
        "name": args.name or Path(args.out).name, "mode": args.mode, "dtype": args.dtype,
        "dtype_bytes": spec.dtype_bytes, "model": model, "environment": env, "memory": memory,
        "host_link_bytes_per_s": link, "engine": engine,
        "timing": {"repeats": args.repeats, "warmup": args.warmup,
                   "timer": "cuda events + host clock" if env["gpu_name"] != "cpu" else "host clock",
                   "statistic": "median, p10, p90", "profile_seconds": round(elapsed_s, 1)},
        "grid": {"points": len(steps), "ok": len(ok), "failed": failed},
        "fit": fit_summary(steps, input_padding({"engine": engine})),
    }
    if args.tp > 1:
        meta["tensor_parallel"] = {"degree": args.tp, "full_model": args.model or args.config,
                                   "shard": "Megatron: heads, KV heads, MLP columns and vocabulary split; "
                                            "hidden size kept; no all-reduce timed (added by the simulator)"}
    return meta


def main(argv: list[str] | None = None) -> int:
    """Entry point on the device: parse options, profile, log to stdout."""
    parser = argparse.ArgumentParser(prog="python -m batchsim.profiler.run", description=__doc__)
    add_profile_arguments(parser)
    args = parser.parse_args(argv)
    profile(args, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
