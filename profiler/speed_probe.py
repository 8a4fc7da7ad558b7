"""A fixed burst timed through the engine being recorded, before and after each recorded run.

Without CUDA graphs, transformers' engines are host-bound (records/ENGINE_NOTES.md), and most of a
served step's host time is PyTorch building a cuDNN attention plan for a problem shape it has not
met in that thread (the varlen engine's shape is the step's total query and KV tokens, new almost
every step). Measured with this probe (records/diagnostics/h200-2026-12-02c/cudnn_toggle.log):
92-109 ms a step at fresh shapes, 36-52 ms when the same shapes ran again, and 42-47 ms either
way with the cuDNN SDPA backend off.

The probe: PROBE_REQUESTS requests of PROBE_PROMPT_TOKENS random prompt tokens submitted at once,
PROBE_OUTPUT_TOKENS tokens each; its step is the median gap between a request's tokens once every
request decodes. The recorder stores it from before the timed run (after warm-up) and after it.
It was built to tell fast hosts from slow ones and does not: on one host it read 86, 99 and 121
ms in three engines of one process, and the host whose probes read slower (110-114 ms against
86-121) served cb_chat_sat512's trace faster (590 against 519 output tok/s). It stays in records
as a stamp of the host's state around each run; nothing prices steps from it. Imports torch.
"""
from __future__ import annotations

from time import perf_counter

import numpy as np

PROBE_REQUESTS = 16
PROBE_PROMPT_TOKENS = 128
PROBE_OUTPUT_TOKENS = 64
PROBE_SEED = 977  # prompts of their own, so no prefix is shared with the trace's
# Attention plans are cached per thread, and ``generate`` runs every static case in the main
# thread: each probe of a process starts its prompts past every earlier probe's last context, so
# its shapes are as new as a served run's (measured: a repeated probe ran at 22-42 ms a step
# where a fresh one took 78-109 ms on the same host)
_probes_run = [0]


def prompt_tokens_now() -> int:
    """This probe's prompt length: PROBE_PROMPT_TOKENS, moved past the contexts of earlier probes."""
    offset = _probes_run[0] * (PROBE_OUTPUT_TOKENS + 1)
    _probes_run[0] += 1
    return PROBE_PROMPT_TOKENS + offset
WORKLOAD = (f"{PROBE_REQUESTS} requests of {PROBE_PROMPT_TOKENS} prompt tokens (plus {PROBE_OUTPUT_TOKENS + 1} "
            f"for each earlier probe of the process) submitted at once, "
            f"{PROBE_OUTPUT_TOKENS} tokens each; step = median gap between a request's tokens "
            f"once all decode")


def decode_step_gaps_s(token_times_s: list[list[float]]) -> np.ndarray:
    """Gaps between consecutive tokens of each request, counted only once every request has its
    first token (before that, steps also carry prompt chunks)."""
    all_decoding_s = max(times[0] for times in token_times_s)
    gaps = []
    for times in token_times_s:
        t = np.asarray(times, dtype=float)
        t = t[t >= all_decoding_s]
        gaps.extend(np.diff(t).tolist())
    return np.asarray(gaps, dtype=float)


def summarize(gaps_s: np.ndarray, took_s: float) -> dict:
    """The probe's entry: median and mean step in ms, the steps it rests on, and its wall time."""
    if len(gaps_s) == 0:
        raise RuntimeError("speed probe: no decode steps after every request's first token")
    return {"step_ms": round(float(np.median(gaps_s)) * 1e3, 3),
            "step_mean_ms": round(float(np.mean(gaps_s)) * 1e3, 3),
            "gaps": int(len(gaps_s)), "took_s": round(took_s, 3)}


def probe_cb(manager, vocab_size: int, collect, limit_s: float = 60.0) -> dict:
    """The probe through a started continuous-batching manager; ``collect(manager, count, deadline)``
    returns finished outputs by request id (hf_cb_run._collect)."""
    from batchsim.profiler.hf_model import random_prompts
    prompts = random_prompts([prompt_tokens_now()] * PROBE_REQUESTS, vocab_size, PROBE_SEED)
    start = perf_counter()
    for k, prompt in enumerate(prompts):
        manager.add_request(prompt, request_id=f"probe{k}", max_new_tokens=PROBE_OUTPUT_TOKENS,
                            record_timestamps=True, eos_token_id=-1)
    results = collect(manager, PROBE_REQUESTS, start + limit_s)
    times = [list(results[f"probe{k}"].timestamps or []) for k in range(PROBE_REQUESTS)]
    if any(len(t) != PROBE_OUTPUT_TOKENS for t in times):
        raise RuntimeError("speed probe: a probe request's token times are incomplete")
    return summarize(decode_step_gaps_s(times), perf_counter() - start)


def probe_static(model, generate_batch) -> dict:
    """The probe through ``generate`` (hf_static_run.generate_batch): one padded batch of the
    probe's requests; every row receives a token at each step."""
    from batchsim.profiler.hf_model import random_prompts
    prompts = random_prompts([prompt_tokens_now()] * PROBE_REQUESTS, model.config.vocab_size, PROBE_SEED)
    start = perf_counter()
    stamps_s, _ = generate_batch(model, prompts, PROBE_OUTPUT_TOKENS)
    return summarize(np.diff(np.asarray(stamps_s, dtype=float)), perf_counter() - start)
