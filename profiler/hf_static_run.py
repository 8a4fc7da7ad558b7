"""Replay a trace through static batching: ``model.generate`` on batches of up to B waiting requests.

A submitter thread queues each request at its arrival's wall time. Whenever the engine is idle it
takes up to B queued requests (FIFO), left-pads their prompts and runs ``generate`` until the
longest output (``min_new_tokens = max_new_tokens``). A streamer stamps each decoding step when its
tokens reach the host; a request's token times are its batch's first ``out`` step stamps. Seconds
from the run start. Imports torch/transformers.
"""
from __future__ import annotations

import threading
from collections import deque
from time import perf_counter, sleep

import torch
from transformers.generation.streamers import BaseStreamer

from batchsim.profiler.speed_probe import WORKLOAD, probe_static
from batchsim.traces.record_format import make_request_entry, relative_times, static_token_times
from batchsim.profiler.trace_csv import TraceRow

PAD_ID = 0


class StepClock(BaseStreamer):
    """Streamer that records the host time of each generated step (the prompt put is skipped)."""

    def __init__(self) -> None:
        self.stamps_s: list[float] = []
        self._seen_prompt = False

    def put(self, value) -> None:
        if not self._seen_prompt:
            self._seen_prompt = True
            return
        self.stamps_s.append(perf_counter())

    def end(self) -> None:
        pass


def generate_batch(model, prompts: list[list[int]], new_tokens: int) -> tuple[list[float], int]:
    """Run one static batch; returns per-step host stamps and the number of tokens generated per row."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
        mask[row, width - len(prompt):] = 1
    clock = StepClock()
    with torch.no_grad():
        out = model.generate(input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                             max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                             pad_token_id=PAD_ID, eos_token_id=None, streamer=clock)
    return clock.stamps_s, int(out.shape[1] - width)


class _Arrivals:
    """Queue of request indices filled by a submitter thread at their arrival times."""

    def __init__(self, rows: list[TraceRow], t0_s: float) -> None:
        self.rows, self.t0_s = rows, t0_s
        self.submits_s = [0.0] * len(rows)
        self.waiting: deque[int] = deque()
        self.ready = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for i, row in enumerate(self.rows):
            delay_s = self.t0_s + row.arrival_s - perf_counter()
            if delay_s > 0:
                sleep(delay_s)
            with self.ready:
                self.submits_s[i] = perf_counter() - self.t0_s
                self.waiting.append(i)
                self.ready.notify()

    def take(self, batch_size: int) -> list[int]:
        """Block until a request waits, then take up to ``batch_size`` of them in arrival order."""
        with self.ready:
            while not self.waiting:
                self.ready.wait(timeout=1.0)
            count = min(batch_size, len(self.waiting))
            return [self.waiting.popleft() for _ in range(count)]


def _warm_up(model, prompts, batch_size: int) -> None:
    """Exercise prefill and decode at the batch size before timing (kernel selection, allocator)."""
    rows = [p[:512] for p in prompts[:batch_size]]
    rows += [rows[-1]] * (batch_size - len(rows))
    generate_batch(model, rows, 8)


def replay_static(model, rows: list[TraceRow], prompts, warm_prompts, batch_size: int) -> dict:
    """Replay ``rows`` with static batches of up to ``batch_size``; returns entries and batch log."""
    if batch_size <= 0:
        raise ValueError(f"hf_static batch size must be positive, got {batch_size}")
    t_warm = perf_counter()
    _warm_up(model, warm_prompts, batch_size)
    warmup_s = perf_counter() - t_warm
    probe_before = probe_static(model, generate_batch)
    arrivals = _Arrivals(rows, perf_counter() + 0.05)
    t0_s = arrivals.t0_s
    arrivals.thread.start()
    times: dict[int, list[float]] = {}
    batches = []
    while len(times) < len(rows):
        members = arrivals.take(batch_size)
        dispatch_s = perf_counter() - t0_s
        steps = max(rows[i].output_tokens for i in members)
        stamps_s, generated = generate_batch(model, [prompts[i] for i in members], steps)
        if generated != steps or len(stamps_s) != steps:
            raise RuntimeError(f"batch of {members}: asked {steps} tokens, got {generated} "
                               f"({len(stamps_s)} step stamps)")
        step_times_s = relative_times(stamps_s, t0_s)
        for i in members:
            times[i] = static_token_times(step_times_s, rows[i].output_tokens)
        batches.append({"dispatch": round(dispatch_s, 6), "end": round(step_times_s[-1], 6),
                        "first_token": round(step_times_s[0], 6), "size": len(members),
                        "max_in": max(rows[i].prompt_tokens for i in members), "steps": steps,
                        "requests": members})
    arrivals.thread.join()
    probe_after = probe_static(model, generate_batch)  # did the host's speed change over the run?
    entries = [make_request_entry(i, row.arrival_s, arrivals.submits_s[i], row.prompt_tokens,
                                  row.output_tokens, times[i]) for i, row in enumerate(rows)]
    return {"requests": entries, "engine_config": {"batch_size": int(batch_size)},
            "batches": batches, "warmup_s": round(warmup_s, 3),
            "speed_probe": {"workload": WORKLOAD, "before": probe_before, "after": probe_after}}
