"""Engine mode: time steps as transformers' continuous-batching engine runs them (seconds).

The engine (paged KV cache, FIFO scheduler serving decodes first and filling ``max_batch_tokens``
with prompt chunks, its own padding and CUDA graphs when its defaults enable them) is driven one
loop iteration at a time from this thread, through the same body its background thread runs.
Requests are submitted so that the next step has the grid point's composition; what the engine
actually scheduled is read back from its batch and recorded, so a row never claims a shape the
engine did not run. Wall time covers the whole iteration (scheduling, input preparation, forward,
sampling, state update); GPU time is the generation step between CUDA events on the engine's
compute stream; their difference is the engine's per-step CPU work. Decode repeats are consecutive
engine steps, so every sequence's context grows by one token a repeat as in a served run; with
``fixed_kv`` each sequence's KV length is set back before every repeat so that all repeats run one
shape (a diagnostic: kernels and plan caches that key on the KV length then see a repeated shape).
Chunk repeats likewise never repeat a shape: each repeat's first prompt chunk is a token shorter (or
longer) than the last one's. A served engine almost never meets the same (query, KV) lengths twice,
and without CUDA graphs its attention pays host time for every new shape (about 40 ms a step on the
H200 image, records/diagnostics/h200-2026-11-24): repeating one shape timed a 512-token chunk at
25 ms where the records' chunk steps took 60-68 ms.
"""
from __future__ import annotations

import gc
import time

import numpy as np
import torch
from transformers import ContinuousBatchingConfig, GenerationConfig
from transformers.generation.continuous_batching.requests import RequestStatus

from batchsim.profiler.grid import GridPoint
from batchsim.profiler.timing import GpuInterval, spread, summarize
from batchsim.simulator.profile_format import StepRecord

RESOLVED_FIELDS = ("block_size", "num_blocks", "max_batch_tokens", "max_requests_per_batch",
                   "max_blocks_per_request", "scheduler_type", "use_cuda_graph", "use_async_batching",
                   "q_padding_interval_size", "kv_padding_interval_size", "max_memory_percent",
                   "allow_block_sharing", "default_compile_level")


class EngineRunner:
    """Drives a model's continuous-batching manager step by step."""

    def __init__(self, model, repeats: int, warmup: int, seed: int = 0, overrides: dict | None = None,
                 fixed_kv: bool = False) -> None:
        self.model, self.overrides = model, dict(overrides or {})
        self.device = model.device
        self.repeats, self.warmup, self.fixed_kv = repeats, warmup, fixed_kv
        self.rng = np.random.default_rng(seed)
        self.vocab = model.config.vocab_size
        self._counter = 0
        self._interval = GpuInterval(self.device)
        self._last: dict = {}
        self.budget: int | None = None  # the token budget asked of the open engine (None: its default)
        self._open(self.overrides)

    def _open(self, overrides: dict) -> None:
        generation = GenerationConfig(max_new_tokens=16, do_sample=False, eos_token_id=-1, pad_token_id=0)
        self.manager = self.model.init_continuous_batching(
            generation_config=generation, continuous_batching_config=ContinuousBatchingConfig(**overrides))
        if self.manager.continuous_batching_config.use_async_batching:
            # the async loop overlaps step N+1's preparation with step N; timing it step by step
            # from here would not be how that engine runs
            raise ValueError("engine mode times the synchronous loop; this engine resolved to async batching "
                             "(pass --engine-option use_async_batching=false to profile it synchronously)")
        self.manager.warmup()  # creates the batch processor and captures graphs if the engine uses them
        self.manager.current_batch = 0  # set by the background loop, which we replace
        self.processor = self.manager.batch_processor
        original = self.manager._generation_step

        def timed_generation_step() -> None:
            self._last["batch"] = self._composition()
            stream = self.processor.inputs_and_outputs.compute_stream
            self._interval.start(stream)
            original()
            self._interval.stop(stream)

        self.manager._generation_step = timed_generation_step

    def use_budget(self, budget: int | None) -> bool:
        """Reopen the engine with token budget ``budget`` (None: the profile's own settings);
        True when it was reopened (its first step shapes are then new: warm them up)."""
        if budget == self.budget:
            return False
        self.manager.destroy()
        self.manager.batch_processor = None  # its KV cache must be freed before the next engine sizes one
        self.manager = self.processor = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        self._open({**self.overrides, "max_batch_tokens": budget} if budget else self.overrides)
        self.budget = budget
        return True

    def resolved_config(self) -> dict:
        """The engine's resolved defaults, as the simulator must mirror them."""
        cfg = self.manager.continuous_batching_config
        out = {name: _plain(getattr(cfg, name, None)) for name in RESOLVED_FIELDS}
        out["safety_margin"] = float(self.processor.scheduler.safety_margin)
        out["scheduler_class"] = type(self.processor.scheduler).__name__
        out["pads_inputs"] = bool(self.processor.model_runner.pad_inputs)
        out["attn_implementation"] = str(self.manager.model.config._attn_implementation)
        return out

    def _host_io(self):
        io = self.processor.inputs_and_outputs
        return io.io_pairs[io.current_pair].host_io if hasattr(io, "io_pairs") else io

    def _composition(self) -> dict:
        host = self._host_io()
        chunks, contexts = [], []
        for future in host.requests_in_batch:
            cached = future.state.position_offset - future.query_length
            if future.query_length == 1 and future.state.status == RequestStatus.DECODING:
                contexts.append(cached)
            else:
                chunks.append((future.query_length, cached))
        return {"chunks": tuple(chunks), "contexts": contexts,
                "padded": (int(host.num_q_tokens), int(host.max_kv_read))}

    def _submit(self, prompt_tokens: int, max_new_tokens: int) -> str:
        self._counter += 1
        ids = self.rng.integers(1, self.vocab, prompt_tokens).tolist()  # fresh tokens: no prefix-cache hits
        return self.manager.add_request(ids, request_id=f"p{self._counter}", max_new_tokens=max_new_tokens)

    def _step(self) -> tuple[dict, float, float]:
        start = time.perf_counter()
        ran = self.manager._generation_loop_body(self.processor, bootstrapping=False)
        wall = time.perf_counter() - start
        if not ran or "batch" not in self._last:
            raise RuntimeError("the engine ran no step")
        return self._last.pop("batch"), wall, self._interval.elapsed_s()

    def _has_prefill(self) -> bool:
        return any(s.status != RequestStatus.DECODING for s in self.processor.scheduler.active_requests.values()) \
            or bool(self.processor.scheduler.waiting_requests) or not self.manager.input_queue.empty()

    def run_point(self, point: GridPoint) -> StepRecord:
        """Time one grid point; out-of-memory and engine errors are recorded, not raised."""
        try:
            samples = self._decode_steps(point) if not point.chunks else self._chunk_steps(point)
        except torch.OutOfMemoryError:
            self._reset()
            return _record(point.kind, [], "oom", "out of memory")
        except RuntimeError as error:
            self._reset()
            return _record(point.kind, [], "error", str(error).splitlines()[0][:120])
        self._reset()
        return _record(point.kind, samples[self.warmup:], "ok", "")

    def _reset(self) -> None:
        self.processor.reset()
        self._last.clear()
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def _start_decodes(self, point: GridPoint) -> None:
        # early requests decode while later ones prefill: budget enough tokens that none finishes
        budget = self.warmup + self.repeats + 8 + sum(seqs * ctx for seqs, ctx in point.decodes)
        for seqs, ctx in point.decodes:
            for _ in range(seqs):
                self._submit(ctx, budget)
        while self._has_prefill():
            self._step()

    def _decode_steps(self, point: GridPoint) -> list:
        self._start_decodes(point)
        if not self.fixed_kv:
            return [self._step() for _ in range(self.warmup + self.repeats)]
        states = list(self.processor.scheduler.active_requests.values())
        offsets = [state.position_offset for state in states]
        samples = []
        for _ in range(self.warmup + self.repeats):
            for state, offset in zip(states, offsets):
                state.position_offset = offset  # the new token's KV overwrites the last repeat's slot
            samples.append(self._step())
        return samples

    def _chunk_steps(self, point: GridPoint) -> list:
        if point.decodes:
            self._start_decodes(point)
        samples = []
        room = self.manager.continuous_batching_config.max_batch_tokens - point.decode_count
        for repeat in range(self.warmup + self.repeats):
            for index, (new, cached) in enumerate(point.chunks):
                if index == 0 and not self.fixed_kv:
                    new = fresh_chunk_length(new, repeat, room)
                self._submit(new + cached, 1)
            sample = self._step()
            while self._has_prefill():  # a prompt longer than the step budget: time its last chunk
                sample = self._step()
            samples.append(sample)
        return samples


def fresh_chunk_length(new_tokens: int, repeat: int, room_tokens: int) -> int:
    """The first chunk's length in repeat ``repeat``: new_tokens, then one shorter, one longer, two
    shorter, ..., skipping lengths outside 1..room_tokens (the step budget left by the point's
    decodes, so the engine never splits the chunk); lengths repeat only when the room runs out."""
    lengths = [new_tokens]
    for offset in range(1, room_tokens + 1):
        lengths += [n for n in (new_tokens - offset, new_tokens + offset) if 1 <= n <= room_tokens]
    return lengths[repeat % len(lengths)]


def _record(kind: str, samples: list, status: str, note: str) -> StepRecord:
    if not samples:
        return StepRecord(kind, (), 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, status, note)
    batch = samples[len(samples) // 2][0]  # contexts grow one token a step; take the middle step
    walls, gpus = [s[1] for s in samples], [s[2] for s in samples]
    wall, gpu = summarize(walls), summarize(gpus)
    q_padded, kv_padded = batch["padded"]
    return StepRecord(
        kind=kind, prefill_chunks=batch["chunks"], decode_count=len(batch["contexts"]),
        decode_context_sum=sum(batch["contexts"]), decode_context_max=max(batch["contexts"], default=0),
        wall_s=wall[0], wall_p10_s=wall[1], wall_p90_s=wall[2], gpu_s=gpu[0], gpu_p10_s=gpu[1],
        gpu_p90_s=gpu[2], repeats=len(samples), status=status, note=f"q_padded={q_padded} kv_padded={kv_padded}",
        **spread(walls, gpus),
    )


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
