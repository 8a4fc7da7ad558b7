"""Eager and cuda-graph modes: time grid points on ``DenseLlama`` (seconds).

Each step's wall time runs from building its inputs on the host to having the sampled token ids
back on the host; its GPU time is the forward alone, between CUDA events. In cuda-graph mode,
decode-only steps are captured once per shape and replayed (as vLLM and TensorRT-LLM run
decodes); prefill and mixed steps run eagerly, as those engines run them without piecewise graphs.
"""
from __future__ import annotations

import time
from collections import Counter

import torch

from batchsim.profiler.dense_model import DenseLlama
from batchsim.profiler.grid import GridPoint
from batchsim.profiler.timing import GpuInterval, spread, summarize, synchronize
from batchsim.simulator.profile_format import StepRecord


class DenseRunner:
    """Runs grid points on a dense model in ``eager`` or ``cuda-graph`` mode."""

    def __init__(self, model: DenseLlama, mode: str, repeats: int, warmup: int, seed: int = 0) -> None:
        self.model, self.mode, self.repeats, self.warmup = model, mode, repeats, warmup
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.generator = torch.Generator().manual_seed(seed)

    def _layout(self, point: GridPoint):
        """Segments (row ranges of equal-shaped sequences), positions and logit rows of a step."""
        groups = [(seqs, new, cached) for (new, cached), seqs in Counter(point.chunks).items()]
        groups += [(seqs, 1, ctx) for seqs, ctx in point.decodes]
        segments, positions, logit_rows, row = [], [], [], 0
        for seqs, new, cached in groups:
            segments.append((row, row + seqs * new, seqs))
            positions += list(range(cached, cached + new)) * seqs
            logit_rows += [row + (i + 1) * new - 1 for i in range(seqs)]
            row += seqs * new
        return groups, segments, positions, logit_rows

    def _caches(self, groups, layers: int):
        spec = self.model.spec
        caches = []
        for _ in range(layers):
            layer = []
            for seqs, new, cached in groups:
                shape = (seqs, spec.num_key_value_heads, cached + new, spec.head_dim)
                k = torch.empty(shape, device=self.device, dtype=self.dtype).normal_()
                layer.append((k, torch.empty_like(k).normal_(), cached))
            caches.append(layer)
        return caches

    def run_point(self, point: GridPoint, layers: int | None = None) -> StepRecord:
        """Time one grid point through ``layers`` decoder layers (default: all built);
        an out-of-memory point is recorded with status 'oom'."""
        layers = len(self.model.layers) if layers is None else layers
        if layers > len(self.model.layers):
            raise ValueError(f"{layers} layers asked, {len(self.model.layers)} built")
        try:
            with torch.no_grad():
                walls, gpus = self._time(point, layers)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            return record_for(point, [], [], "oom", "out of memory")
        return record_for(point, walls, gpus, "ok", "graph" if self._use_graph(point) else "")

    def _use_graph(self, point: GridPoint) -> bool:
        return self.mode == "cuda-graph" and not point.chunks and self.device.type == "cuda"

    def _time(self, point: GridPoint, layers: int) -> tuple[list[float], list[float]]:
        groups, segments, positions, logit_rows = self._layout(point)
        caches = self._caches(groups, layers)
        vocab = self.model.spec.vocab_size
        static = {
            "pos": torch.tensor(positions, device=self.device),
            "rows": torch.tensor(logit_rows, device=self.device),
            "ids": torch.randint(vocab, (len(positions),), generator=self.generator).to(self.device),
        }
        graph = self._capture(static, segments, caches) if self._use_graph(point) else None
        interval, walls, gpus = GpuInterval(self.device), [], []
        for repeat in range(self.warmup + self.repeats):
            synchronize(self.device)
            start = time.perf_counter()
            ids = torch.randint(vocab, (len(positions),), generator=self.generator)
            if graph is not None:
                static["ids"].copy_(ids, non_blocking=True)
                interval.start()
                graph.replay()
                out = static["out"]
            else:
                inputs = (ids.to(self.device), torch.tensor(positions).to(self.device),
                          torch.tensor(logit_rows).to(self.device))
                interval.start()
                out = self.model(*inputs, segments, caches)
            interval.stop()
            out.cpu()
            wall = time.perf_counter() - start
            if repeat >= self.warmup:
                walls.append(wall)
                gpus.append(interval.elapsed_s())
        return walls, gpus

    def _capture(self, static: dict, segments, caches) -> torch.cuda.CUDAGraph:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                self.model(static["ids"], static["pos"], static["rows"], segments, caches)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static["out"] = self.model(static["ids"], static["pos"], static["rows"], segments, caches)
        return graph


def record_for(point: GridPoint, walls: list[float], gpus: list[float], status: str, note: str) -> StepRecord:
    """A StepRecord for a grid point from its timing samples."""
    wall = summarize(walls) if walls else (0.0, 0.0, 0.0)
    gpu = summarize(gpus) if gpus else (0.0, 0.0, 0.0)
    contexts = [ctx for _, ctx in point.decodes]
    return StepRecord(
        kind=point.kind, prefill_chunks=point.chunks, decode_count=point.decode_count,
        decode_context_sum=sum(n * ctx for n, ctx in point.decodes),
        decode_context_max=max(contexts, default=0),
        wall_s=wall[0], wall_p10_s=wall[1], wall_p90_s=wall[2],
        gpu_s=gpu[0], gpu_p10_s=gpu[1], gpu_p90_s=gpu[2],
        repeats=len(walls), status=status, note=note, **spread(walls, gpus),
    )
