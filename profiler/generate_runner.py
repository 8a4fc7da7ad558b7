"""Eager mode: time steps as ``model.generate`` runs them on a left-padded batch (seconds).

This is the static-batching engine of the validation records (``profiler.hf_static_run``): the
Hugging Face model, sdpa attention, a DynamicCache, ``min_new_tokens = max_new_tokens`` and a
streamer that copies each step's tokens to the host. A grid pair (B rows x P tokens) is timed by
``generate`` calls on B random prompts left-padded to P (row i carries i x P / 2B pad tokens, so
batches of two or more rows take the masked attention path that real mixed-length batches take).
Per call, the prefill sample runs from the call to the first token on the host (input padding,
generate's set-up, the prefill forward and sampling, as a static batch's first step costs) and each
decode sample is the gap between consecutive tokens. GPU time is each forward between CUDA events.

No call repeats a shape an earlier call ran: on this stack sdpa dispatches to cuDNN attention,
which builds a plan per new (rows, KV length) and spends ~40 ms of host time per decode step doing
so (H200, Llama-3-8B: 64-71 ms a step on never-seen shapes, as the records' generate runs pay,
against 23-29 ms when every shape repeats; profiler/NOTES.md). A live static batch meets a new
padded width and new KV lengths every step, so call c of a pair pads to the first width at or
above P whose prefill and decode shapes are all unused (P, P + 4, ...), and the point is recorded
at the median call's width.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from batchsim.profiler.dense_runner import record_for
from batchsim.profiler.grid import GridPoint
from batchsim.profiler.hf_static_run import generate_batch
from batchsim.profiler.timing import GpuInterval
from batchsim.simulator.profile_format import StepRecord

DECODES_PER_CALL = 3


class GenerateRunner:
    """Runs grid points through ``model.generate``; a decode point reuses its prefill point's calls."""

    def __init__(self, model, repeats: int, warmup: int, seed: int = 0) -> None:
        self.model, self.repeats, self.warmup = model, repeats, warmup
        self.device = model.device
        self.rng = np.random.default_rng(seed)
        self.vocab = model.config.vocab_size
        self._forwards: list[GpuInterval] = []
        self._used: set[tuple[int, int]] = set()  # (rows, KV length) shapes already run
        self._decode_samples: dict[tuple[int, int], tuple[list, list]] = {}
        model.register_forward_pre_hook(self._forward_started)
        model.register_forward_hook(self._forward_ended)

    def _forward_started(self, module, args) -> None:
        interval = GpuInterval(self.device)
        interval.start()
        self._forwards.append(interval)

    def _forward_ended(self, module, args, output) -> None:
        self._forwards[-1].stop()

    def _prompts(self, rows: int, length: int) -> list[list[int]]:
        # token 0 is the pad id; pads grow down the batch so only row 0 fills the width
        return [self.rng.integers(1, self.vocab, length - (i * length) // (2 * rows)).tolist() for i in range(rows)]

    def _fresh_width(self, rows: int, length: int) -> int:
        """The first padded width >= length whose call shapes (width .. width + decodes) are all unused."""
        span = DECODES_PER_CALL + 1
        width = length
        while any((rows, width + k) in self._used for k in range(span)):
            width += span
        self._used.update((rows, width + k) for k in range(span))
        return width

    def _calls(self, rows: int, length: int) -> tuple[tuple[list, list], tuple[list, list], int]:
        """Prefill and decode samples (wall, gpu) of warm-up + repeats generate calls, and the median width."""
        prefill, decode, widths = ([], []), ([], []), []
        for call in range(self.warmup + self.repeats):
            width = self._fresh_width(rows, length)
            prompts = self._prompts(rows, width)
            self._forwards.clear()
            start = time.perf_counter()
            stamps, generated = generate_batch(self.model, prompts, 1 + DECODES_PER_CALL)
            if generated != 1 + DECODES_PER_CALL or len(stamps) != generated:
                raise RuntimeError(f"generate made {generated} tokens with {len(stamps)} stamps")
            gpu = [interval.elapsed_s() for interval in self._forwards]
            if call < self.warmup:
                continue
            widths.append(width)
            prefill[0].append(stamps[0] - start)
            prefill[1].append(gpu[0])
            decode[0].extend(np.diff(stamps).tolist())
            decode[1].extend(gpu[1:len(stamps)])
        return prefill, decode, sorted(widths)[len(widths) // 2]

    def run_point(self, point: GridPoint) -> StepRecord:
        """Time one grid point: B equal prefill chunks, or one decode group."""
        if point.kind == "decode" and len(point.decodes) == 1:
            rows, length = point.decodes[0]
            if (rows, length) not in self._decode_samples:
                status = self._run(rows, length)
                if status is not None:
                    return status
            walls, gpus, width = self._decode_samples.pop((rows, length))
            # decode step k of a call reads the padded prompt plus k - 1 generated tokens: the middle one
            middle = GridPoint("decode", decodes=((rows, width + (DECODES_PER_CALL - 1) // 2),))
            return record_for(middle, walls, gpus, "ok", "generate")
        lengths = {(new, cached) for new, cached in point.chunks}
        if point.kind != "prefill" or len(lengths) != 1 or next(iter(lengths))[1] != 0:
            raise ValueError(f"eager mode times generate's padded batches only, not {point}")
        rows, length = len(point.chunks), point.chunks[0][0]
        try:
            prefill, decode, width = self._calls(rows, length)
        except torch.OutOfMemoryError:
            return self._failed(point)
        self._decode_samples[(rows, length)] = (*decode, width)
        return record_for(GridPoint("prefill", ((width, 0),) * rows), *prefill, "ok", "generate")

    def _run(self, rows: int, length: int) -> StepRecord | None:
        try:
            _, decode, width = self._calls(rows, length)
            self._decode_samples[(rows, length)] = (*decode, width)
        except torch.OutOfMemoryError:
            return self._failed(GridPoint("decode", decodes=((rows, length),)))
        return None

    def _failed(self, point: GridPoint) -> StepRecord:
        self._forwards.clear()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        return record_for(point, [], [], "oom", "out of memory")
