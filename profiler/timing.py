"""Timers for whole steps: CUDA events for GPU work, the host clock for wall time (seconds).

On a CUDA device the GPU interval is measured with events recorded on the stream doing the work;
on the CPU the same interface falls back to the host clock, so the profiler's code path is the
one CI runs. Repeats are summarised by median with 10th and 90th percentiles, and ``spread``
keeps what the median drops: the mean and every repeat in the order it ran.
"""
from __future__ import annotations

import statistics
import time

import torch


class GpuInterval:
    """Times GPU work between ``start()`` and ``stop()``; ``elapsed_s()`` after synchronising."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        if self.cuda:
            self._start = torch.cuda.Event(enable_timing=True)
            self._stop = torch.cuda.Event(enable_timing=True)
        self._t0 = self._t1 = 0.0

    def start(self, stream=None) -> None:
        """Mark the start on ``stream`` (default: the current stream)."""
        if self.cuda:
            self._start.record(stream) if stream is not None else self._start.record()
        else:
            self._t0 = time.perf_counter()

    def stop(self, stream=None) -> None:
        """Mark the end on ``stream``."""
        if self.cuda:
            self._stop.record(stream) if stream is not None else self._stop.record()
        else:
            self._t1 = time.perf_counter()

    def elapsed_s(self) -> float:
        """Seconds between the marks (synchronises with the end event on CUDA)."""
        if self.cuda:
            self._stop.synchronize()
            return self._start.elapsed_time(self._stop) / 1000.0
        return self._t1 - self._t0


def synchronize(device: torch.device) -> None:
    """Wait for all queued work on the device."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def summarize(samples: list[float]) -> tuple[float, float, float]:
    """Median, 10th and 90th percentile of samples (seconds)."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0], ordered[0], ordered[0]
    deciles = statistics.quantiles(ordered, n=10, method="inclusive")
    return statistics.median(ordered), deciles[0], deciles[-1]


def spread(walls: list[float], gpus: list[float]) -> dict:
    """StepRecord fields keeping the repeats' spread: mean wall and GPU time, and the wall samples."""
    if not walls:
        return {}
    return {"wall_mean_s": statistics.fmean(walls), "gpu_mean_s": statistics.fmean(gpus) if gpus else None,
            "wall_samples_s": tuple(round(t, 6) for t in walls)}  # whole microseconds, as written
