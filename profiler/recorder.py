"""Record runs of a real serving engine replaying traces at their arrival times (issue #5).

``python3 -m batchsim.profiler.recorder --trace T.csv --engine hf_cb --out run.json`` builds the model with
random bf16 weights on the GPU, replays the trace and writes one record (format in
``traces.record_format``; times in seconds from the run start). ``--plan`` runs several cases
back to back with the model built once. Imports torch/transformers.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from time import perf_counter

from batchsim.profiler.environment import host_speed_stamp
from batchsim.profiler.hf_cb_run import CbKnobs, replay_cb
from batchsim.profiler.hf_model import build_model, environment, model_config_fields, random_prompts
from batchsim.profiler.hf_static_run import replay_static
from batchsim.profiler.record_args import EXAMPLE, add_record_arguments, check_record_arguments
from batchsim.traces.record_format import validate_record
from batchsim.profiler.trace_csv import read_trace_csv
from batchsim.simulator.models import get_model

WARM_REQUESTS = 32  # warm prompts drawn (each engine uses the first few)
CB_KNOBS = ("block_size", "num_blocks", "max_batch_tokens", "max_requests_per_batch",
            "use_cuda_graph", "use_async_batching", "allow_block_sharing")
CASE_KEYS = {"case", "trace", "engine", "out", "batch_size", "max_batch_tokens", "num_blocks",
             "block_size", "max_requests_per_batch", "use_cuda_graph", "use_async_batching",
             "allow_block_sharing", "seed",
             "notes"}


def record_case(model, case: str, engine: str, trace_path: str, settings: dict, seed: int = 0,
                limit_s: float = 600.0) -> dict:
    """Replay one trace on one engine and return its record (validated shape, unvalidated n_gen)."""
    rows = read_trace_csv(trace_path)
    vocab = model.config.vocab_size
    prompts = random_prompts([r.prompt_tokens for r in rows], vocab, seed)
    warm_prompts = random_prompts([r.prompt_tokens for r in rows[:WARM_REQUESTS]], vocab, seed + 1)
    if engine == "hf_cb":
        asked = {k: settings[k] for k in CB_KNOBS if settings.get(k) is not None}
        knobs = CbKnobs(**asked, seed=seed)
        result = replay_cb(model, rows, prompts, warm_prompts, knobs, limit_s)
    elif engine == "hf_static":
        result = replay_static(model, rows, prompts, warm_prompts, int(settings.get("batch_size", 8)))
    else:
        raise ValueError(f"unknown engine '{engine}' (known: hf_cb, hf_static)")
    env = environment()
    record = {"case": case, "engine": engine, "model_config": model_config_fields(model),
              "engine_config": result.pop("engine_config"), "gpu": env["gpu"], "torch": env["torch"],
              "transformers": env["transformers"], "requests": result.pop("requests")}
    record.update({"trace_file": Path(trace_path).name, "seed": seed, **result})
    # host-bound engine steps differ between hosts: the same stamp profiles carry, to match them
    record["host"] = host_speed_stamp(model.device)
    if settings.get("notes"):
        record["notes"] = settings["notes"]
    return record


def write_record(path: str | Path, record: dict) -> None:
    """Write a record as compact JSON."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("w") as handle:
        json.dump(record, handle, separators=(",", ":"))
        handle.write("\n")


def _settings_from_args(args: argparse.Namespace) -> dict:
    return {"batch_size": args.batch_size, "max_batch_tokens": args.max_batch_tokens,
            "num_blocks": args.num_blocks, "block_size": args.block_size,
            "max_requests_per_batch": args.max_requests_per_batch,
            "use_cuda_graph": args.cuda_graph, "use_async_batching": args.async_batching}


def _load_plan(path: str) -> tuple[str, list[dict]]:
    with open(path) as handle:
        plan = json.load(handle)
    cases = plan.get("cases") if isinstance(plan, dict) else None
    if not isinstance(cases, list) or not cases:
        raise ValueError(f"{path}: plan needs a non-empty 'cases' list")
    for index, case in enumerate(cases):
        unknown = set(case) - CASE_KEYS
        if unknown:
            raise ValueError(f"{path}: cases[{index}] has unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("case", "trace", "engine", "out"):
            if key not in case:
                raise ValueError(f"{path}: cases[{index}] lacks '{key}'")
    return plan.get("model", "llama-3-8b"), cases


def _report(log, case: str, record: dict, took_s: float) -> None:
    from batchsim.traces.record_format import run_summary
    try:
        # a soft-reset request's token times restart (the engine's doing): fewer times than tokens
        validate_record(record, exact_lengths=not record.get("preempted_requests"))
        verdict = "valid"
    except ValueError as error:
        verdict = f"INVALID: {error}"
    s = run_summary(record)
    log(f"[{case}] {s['requests']} requests, {s['duration_s']:.1f} s, "
        f"{s['output_tokens_per_s']:.0f} out tok/s, wall {took_s:.0f} s, {verdict}")


def run_plan(args: argparse.Namespace, log) -> int:
    """Run every case of a plan; a failing case is logged and skipped. Returns failures."""
    model_name, cases = _load_plan(args.plan)
    if args.only:
        wanted = set(args.only.split(","))
        cases = [case for case in cases if case["case"] in wanted]
    start = perf_counter()
    model = build_model(get_model(model_name))
    log(f"model {model_name} built in {perf_counter() - start:.0f} s")
    failures = 0
    for case in cases:
        if args.stop_after_s is not None and perf_counter() - start > args.stop_after_s:
            log(f"[{case['case']}] skipped: past --stop-after-s")
            failures += 1
            continue
        t_case = perf_counter()
        try:
            record = record_case(model, case["case"], case["engine"], case["trace"], case,
                                 int(case.get("seed", args.seed)), args.limit_s)
        except (RuntimeError, ValueError, OSError) as error:
            log(f"[{case['case']}] FAILED: {type(error).__name__}: {error}")
            failures += 1
            continue
        write_record(Path(args.out_dir) / case["out"], record)
        _report(log, case["case"], record, perf_counter() - t_case)
    return failures


def run_single(args: argparse.Namespace, log) -> int:
    """Record one run described by the flags."""
    case = args.case or Path(args.trace).stem
    model = build_model(get_model(args.model))
    t_case = perf_counter()
    record = record_case(model, case, args.engine, args.trace, _settings_from_args(args), args.seed,
                         args.limit_s)
    write_record(args.out, record)
    _report(log, case, record, perf_counter() - t_case)
    return 0


def run_from_args(args: argparse.Namespace, log) -> int:
    """Entry shared by ``batchsim record`` and ``python3 -m batchsim.profiler.recorder``."""
    check_record_arguments(args)
    return run_plan(args, log) if args.plan else run_single(args, log)


def main(argv: list[str] | None = None) -> int:
    """Plain runner: ``python3 -m batchsim.profiler.recorder ...``."""
    parser = argparse.ArgumentParser(prog="python3 -m batchsim.profiler.recorder", epilog=EXAMPLE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Record engine runs replaying traces on the GPU.")
    add_record_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return 1 if run_from_args(args, lambda line: print(line, file=sys.stderr, flush=True)) else 0
    except (ValueError, OSError) as error:
        print(f"recorder: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
