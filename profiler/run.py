"""Profile a model on one device and write the profile (``python -m profiler.run`` or ``batchsim profile``).

Builds the model with random weights (our ``DenseLlama`` for eager and cuda-graph modes, the
Hugging Face model for engine mode), stamps the environment, times the grid, fits the cost model
form by held-out error (numpy, ``simulator.profile_fit``) and writes ``profile.yaml`` and
``steps.csv``. Progress goes to a ``log`` callable; nothing here prints by itself.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from profiler.dense_model import build_dense_model
from profiler.dense_runner import DenseRunner
from profiler.environment import GpuMonitor, host_link_bytes_per_s, memory_facts, software_stamp
from profiler.grid import build_grid
from profiler.options import add_profile_arguments, parse_engine_options
from simulator.models import ModelSpec, get_model
from simulator.profile_cost import fit_summary
from simulator.profile_format import write_profile

TORCH_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def resolve_spec(model: str | None, config_path: str | None, dtype: str, layers: int | None) -> ModelSpec:
    """The ModelSpec from a catalog name or a local config.json, with dtype bytes and layer override."""
    if bool(model) == bool(config_path):
        raise ValueError("give exactly one of --model or --config")
    if config_path:
        with open(config_path) as handle:
            spec = ModelSpec.from_hf_config(json.load(handle), name=Path(config_path).parent.name or "custom")
    else:
        spec = get_model(model)
    spec = replace(spec, dtype_bytes=TORCH_DTYPES[dtype].itemsize)
    return replace(spec, num_hidden_layers=layers) if layers else spec


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
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = TORCH_DTYPES[args.dtype]
    spec = resolve_spec(args.model, args.config, args.dtype, args.layers)
    monitor = GpuMonitor(device)
    env = {**monitor.stamp(), **software_stamp(), "sm_clock_before_mhz": monitor.sm_clock_mhz()}
    link = host_link_bytes_per_s(device)
    started = time.perf_counter()
    if args.mode == "engine":
        model = build_hf_model(spec, device, dtype)
        memory = _memory(model, device, spec)  # before the engine takes its KV cache
        runner = _engine_runner(model, args)
        engine = runner.resolved_config()
        env["attn_implementation"] = engine["attn_implementation"]
        max_batch_tokens, kv_capacity = engine["max_batch_tokens"], engine["num_blocks"] * engine["block_size"]
        memory.update(block_size=engine["block_size"], kv_capacity_blocks=engine["num_blocks"])
        cached_multiple, kv_cap = max_batch_tokens, 140_000  # engine points must prefill their context first
    else:
        model = build_dense_model(spec, device, dtype, spec.max_position_embeddings + 64)
        memory = _memory(model, device, spec)
        runner, engine = DenseRunner(model, args.mode, args.repeats, args.warmup), None
        env["attn_implementation"] = "torch sdpa (per sequence group)"
        max_batch_tokens, cached_multiple, kv_cap = 8192, None, 300_000
        kv_capacity = _free_bytes(device) // spec.kv_bytes_per_token // 2 if device.type == "cuda" else 1 << 14
    grid = build_grid(max_batch_tokens, spec.max_position_embeddings, min(kv_capacity * 8 // 10, kv_cap),
                      quick=args.quick, cached_multiple=cached_multiple)
    runner.run_point(grid[0])  # warm-up: first-use allocations and kernel selection stay out of the grid
    log(f"{spec.name} {args.mode} on {env['gpu_name']}: {len(grid)} grid points, load {time.perf_counter() - started:.0f}s")
    steps, skipped = [], 0
    for i, point in enumerate(grid):
        if args.time_limit and time.perf_counter() - started > args.time_limit:
            skipped = len(grid) - i
            log(f"time limit reached: {skipped} grid points not run")
            break
        record = runner.run_point(point)
        monitor.sample_throttle()
        steps.append(record)
        log(f"[{i + 1}/{len(grid)}] {point.kind:8s} T={point.num_tokens:<6d} ctx={point.kv_tokens:<7d} "
            f"wall={record.wall_s * 1e3:8.3f}ms gpu={record.gpu_s * 1e3:8.3f}ms {record.status} {record.note}")
    env.update(sm_clock_after_mhz=monitor.sm_clock_mhz(), throttle_reasons_seen=sorted(monitor.reasons_seen))
    meta = _meta(args, spec, env, memory, engine, link, steps, time.perf_counter() - started)
    meta["grid"]["not_run_time_limit"] = skipped
    out = write_profile(args.out, meta, steps)
    log(f"wrote {out} in {time.perf_counter() - started:.0f}s; fit {meta['fit']['form']}")
    return out


def _engine_runner(model, args):
    from profiler.engine_runner import EngineRunner  # needs transformers' continuous batching
    return EngineRunner(model, args.repeats, args.warmup, overrides=parse_engine_options(args.engine_option))


def _memory(model, device: torch.device, spec: ModelSpec) -> dict:
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return memory_facts(device, weight_bytes, spec.kv_bytes_per_token)


def _free_bytes(device: torch.device) -> int:
    return int(torch.cuda.mem_get_info(device)[0])


def _meta(args, spec, env, memory, engine, link, steps, elapsed_s) -> dict:
    ok = [s for s in steps if s.status == "ok"]
    model = {"name": spec.name, **{k: v for k, v in spec.to_hf_config().items() if k not in ("architectures",)}}
    failed = [f"{s.kind} {s.status}: {s.note}" for s in steps if s.status != "ok"]
    return {
        "name": args.name or Path(args.out).name, "mode": args.mode, "dtype": args.dtype,
        "dtype_bytes": spec.dtype_bytes, "model": model, "environment": env, "memory": memory,
        "host_link_bytes_per_s": link, "engine": engine,
        "timing": {"repeats": args.repeats, "warmup": args.warmup,
                   "timer": "cuda events + host clock" if env["gpu_name"] != "cpu" else "host clock",
                   "statistic": "median, p10, p90", "profile_seconds": round(elapsed_s, 1)},
        "grid": {"points": len(steps), "ok": len(ok), "failed": failed},
        "fit": fit_summary(steps),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point on the device: parse options, profile, log to stdout."""
    parser = argparse.ArgumentParser(prog="python -m profiler.run", description=__doc__)
    add_profile_arguments(parser)
    args = parser.parse_args(argv)
    profile(args, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
