"""Replay a trace at its real arrival times through transformers' continuous-batching engine.

A submitter thread calls ``add_request`` at each arrival's wall time (recording ``submit``); the
engine's own ``record_timestamps`` stamps each generated token with ``time.perf_counter`` right after
the step that produced it. Times are seconds from the run start. Imports torch/transformers.
"""
from __future__ import annotations

import copy
import gc
import threading
from dataclasses import dataclass
from time import perf_counter, sleep

import torch
from transformers.generation.configuration_utils import ContinuousBatchingConfig

from batchsim.profiler.cb_steps import StepRecorder
from batchsim.profiler.speed_probe import WORKLOAD, probe_cb
from batchsim.traces.record_format import make_request_entry, relative_times, round_time
from batchsim.profiler.trace_csv import TraceRow


# Warm-up burst: enough to run prefill, mixed and decode steps once, short enough to cost seconds.
WARM_REQUESTS = 4
WARM_PROMPT_TOKENS = 1024


@dataclass(frozen=True)
class CbKnobs:
    """Engine settings asked for; None leaves the engine's own default (resolved values are read back)."""

    block_size: int | None = None
    num_blocks: int | None = None
    max_batch_tokens: int | None = None
    max_requests_per_batch: int | None = None
    use_cuda_graph: bool | None = None
    use_async_batching: bool | None = None
    allow_block_sharing: bool | None = None
    scheduler_type: str = "fifo"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("block_size", "num_blocks", "max_batch_tokens", "max_requests_per_batch"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"hf_cb knob {name} must be positive, got {value}")


def open_manager(model, knobs: CbKnobs):
    """A warmed-up continuous-batching manager (not yet started) built with the given knobs."""
    asked = {name: getattr(knobs, name) for name in
             ("block_size", "num_blocks", "max_batch_tokens", "max_requests_per_batch",
              "use_cuda_graph", "use_async_batching", "allow_block_sharing")}
    config = ContinuousBatchingConfig(
        scheduler_type=knobs.scheduler_type, seed=knobs.seed,
        **{name: value for name, value in asked.items() if value is not None})
    generation = copy.deepcopy(model.generation_config)
    generation.eos_token_id = -1  # the engine's spelling of "no end-of-sequence token"
    generation.do_sample = False
    manager = model.init_continuous_batching(generation_config=generation,
                                             continuous_batching_config=config)
    manager.warmup()  # creates the batch processor and captures the engine's warm-up graphs
    return manager


def graph_count(batch_processor) -> int:
    """CUDA graphs the engine holds (both IO pairs in async mode)."""
    io = batch_processor.inputs_and_outputs
    pairs = getattr(io, "io_pairs", None)
    ios = [pair.device_io for pair in pairs] if pairs is not None else [io]
    return sum(len(x.graphs._storage) for x in ios)


def resolved_config(manager) -> dict:
    """The engine's resolved knobs, read back from its config, cache, scheduler and runner."""
    bp = manager.batch_processor
    cfg, cache, scheduler = manager.continuous_batching_config, bp.cache, bp.scheduler
    varlen_graph, decode_graph = cfg.cuda_graph_booleans
    return {
        "block_size": int(cache.block_size), "num_blocks": int(cache.num_blocks),
        "max_batch_tokens": int(cache.max_batch_tokens),
        "max_requests_per_batch": int(scheduler.max_requests_per_batch),
        "scheduler_type": str(cfg.scheduler_type), "scheduler_class": type(scheduler).__name__,
        "use_cuda_graph": bool(varlen_graph or decode_graph),
        "use_cuda_graph_varlen": bool(varlen_graph), "use_cuda_graph_decode": bool(decode_graph),
        "use_async_batching": bool(bp.use_async_batching),
        "attn_implementation": str(manager.model.config._attn_implementation),
        "max_blocks_per_request": int(cache.max_blocks_per_request),
        "q_padding_interval_size": int(cfg.q_padding_interval_size),
        "kv_padding_interval_size": int(cfg.kv_padding_interval_size),
        "pad_inputs": bool(bp.model_runner.pad_inputs),
        "safety_margin": float(scheduler.safety_margin),
        "allow_block_sharing": bool(cfg.allow_block_sharing),
        "use_prefix_sharing": bool(cache.use_prefix_sharing),
        "max_memory_percent": float(cfg.max_memory_percent),
        "cpu_offload_space_gib": float(cfg.cpu_offload_space or 0.0),
        "do_sample": bool(bp.do_sample),
    }


def _submit(manager, rows: list[TraceRow], prompts, t0_s: float, submits_s: list) -> None:
    for i, row in enumerate(rows):
        delay_s = t0_s + row.arrival_s - perf_counter()
        if delay_s > 0:
            sleep(delay_s)
        submits_s[i] = perf_counter() - t0_s
        manager.add_request(prompts[i], request_id=f"r{i}", max_new_tokens=row.output_tokens,
                            record_timestamps=True, eos_token_id=-1)


def _engine_state(manager) -> str:
    """A one-line summary of unfinished requests, for error messages."""
    scheduler = manager.batch_processor.scheduler
    active = [f"{rid}:{st.status.name}:gen={st.generated_len()}/{st.max_new_tokens}:"
              f"pos={st.position_offset}:blocks={st.allocated_blocks}"
              for rid, st in list(scheduler.active_requests.items())[:8]]
    return (f"active={len(scheduler.active_requests)} waiting={len(scheduler.waiting_requests)} "
            f"free_blocks={manager.batch_processor.cache.get_num_free_blocks()} {active}")


def _collect(manager, count: int, deadline_s: float) -> dict:
    results: dict = {}
    while len(results) < count:
        output = manager.get_result(timeout=0.5)
        if output is None:
            if not manager.is_running():
                raise RuntimeError(f"engine thread stopped with {len(results)}/{count} requests done")
            if perf_counter() > deadline_s:
                raise RuntimeError(f"run passed its time limit with {len(results)}/{count} requests "
                                   f"done; engine state: {_engine_state(manager)}")
            continue
        if output.is_finished():
            if output.error is not None:
                raise RuntimeError(f"request {output.request_id} failed: {output.error}")
            results[output.request_id] = output
    return results


def _warm_up(manager, rows: list[TraceRow], prompts, limit_s: float) -> None:
    """Run a short burst of the case's own shapes so first-use costs fall outside the timed run."""
    count = min(len(rows), WARM_REQUESTS)
    for i in range(count):
        manager.add_request(prompts[i][:WARM_PROMPT_TOKENS], request_id=f"warm{i}",
                            max_new_tokens=min(rows[i].output_tokens, 8), eos_token_id=-1)
    _collect(manager, count, perf_counter() + limit_s)


def replay_cb(model, rows: list[TraceRow], prompts, warm_prompts, knobs: CbKnobs,
              limit_s: float = 600.0) -> dict:
    """Replay ``rows`` through the engine; returns request entries, resolved config and step log."""
    t_open = perf_counter()
    manager = open_manager(model, knobs)
    steps = StepRecorder(manager.batch_processor)
    manager.start()
    try:
        _warm_up(manager, rows, warm_prompts, limit_s)
        warmup_s = perf_counter() - t_open
        vocab = manager.model.config.vocab_size
        probe_before = probe_cb(manager, vocab, _collect)
        config = resolved_config(manager)
        graphs_before = graph_count(manager.batch_processor)
        submits_s = [0.0] * len(rows)
        t0_s = perf_counter() + 0.05  # a short lead so the first arrival is still ahead
        steps.restart(t0_s)
        submitter = threading.Thread(target=_submit, args=(manager, rows, prompts, t0_s, submits_s),
                                     daemon=True)
        submitter.start()
        results = _collect(manager, len(rows), t0_s + rows[-1].arrival_s + limit_s)
        submitter.join()
        graphs_after = graph_count(manager.batch_processor)
        logged = len(steps.rows)
        probe_after = probe_cb(manager, vocab, _collect)  # did the host's speed change over the run?
        del steps.rows[logged:]
    finally:
        manager.stop(block=True, timeout=60)
        manager.destroy()
        del manager
        gc.collect()
        torch.cuda.empty_cache()
    return _assemble(rows, results, submits_s, t0_s, config, steps,
                     {"warmup_s": round(warmup_s, 3), "graphs_captured_in_run": graphs_after - graphs_before,
                      "speed_probe": {"workload": WORKLOAD, "before": probe_before, "after": probe_after}})


def _assemble(rows, results, submits_s, t0_s, config, steps, extra) -> dict:
    """Request entries as the engine reports them: ``token_times`` is the engine's timestamp list,
    which a preemption restarts, and ``n_gen`` the tokens generated; ``first_token`` (the true
    first-token time, from the step log) and ``preemptions`` (times evicted) are added."""
    entries = []
    firsts = steps.relative_first_tokens()
    log = steps.preemption_log()
    evicted: dict[str, int] = {}
    for _, rid in log:
        evicted[rid] = evicted.get(rid, 0) + 1
    for i, row in enumerate(rows):
        output = results[f"r{i}"]
        times = relative_times(output.timestamps or [], t0_s)
        entry = make_request_entry(i, row.arrival_s, submits_s[i], row.prompt_tokens,
                                   row.output_tokens, times)
        entry["n_gen"] = len(output.generated_tokens)
        if f"r{i}" in firsts:
            entry["first_token"] = round_time(firsts[f"r{i}"])
        entry["preemptions"] = evicted.get(f"r{i}", 0)
        entries.append(entry)
    return {"requests": entries, "engine_config": config, "steps": steps.table(),
            "preempted_requests": len(evicted), "preemptions": log, **extra}
