"""Probe where one continuous-batching step spends its time (seconds), next to a plain decode step.

Drives the engine's batch processor from the main thread (no background thread) so that
``torch.profiler`` sees every host op: schedule/prepare, forward, update. For comparison it also
times a plain HF decode step with a DynamicCache at the same context length. Prints tables
(this is a diagnostic command, run by hand on the GPU):

    python3 -m batchsim.profiler.cb_probe --prompt 5000 --steps 20
"""
from __future__ import annotations

import argparse
import logging
import sys
from time import perf_counter

import torch
from transformers import DynamicCache
from transformers.generation.continuous_batching.requests import RequestState

from batchsim.profiler.hf_cb_run import CbKnobs, open_manager, resolved_config
from batchsim.profiler.hf_model import build_model, random_prompts
from batchsim.simulator.models import ModelSpec, get_model


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, int] = {}

    def emit(self, record) -> None:
        key = record.getMessage()[:60]
        self.messages[key] = self.messages.get(key, 0) + 1


def _engine_steps(manager, prompts, out_tokens: int, profile_steps: int):
    bp = manager.batch_processor
    for i, prompt in enumerate(prompts):
        bp.scheduler.add_waiting_request(RequestState(request_id=f"p{i}", initial_tokens=list(prompt),
                                                      max_new_tokens=out_tokens, eos_token_id=-1))
    times, profiled = [], None
    while bp.prepare_next_batch():
        t1 = perf_counter()
        manager._generation_step()
        t2 = perf_counter()
        bp.update_batch()
        times.append((t2 - t1, perf_counter() - t2, bp.inputs_and_outputs.total_seqlen_q))
        decode_only = bp.inputs_and_outputs.total_seqlen_q == len(prompts)
        if profiled is None and decode_only and len(times) > 3:
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                                    torch.profiler.ProfilerActivity.CUDA]) as prof:
                for _ in range(profile_steps):
                    if not bp.prepare_next_batch():
                        break
                    manager._generation_step()
                    bp.update_batch()
            profiled = prof
    return times, profiled


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _plain_decode(model, prompt, steps: int) -> float:
    cache = DynamicCache()
    ids = torch.tensor([prompt], device=model.device)
    with torch.no_grad():
        out = model(input_ids=ids, past_key_values=cache, use_cache=True)
        token = out.logits[:, -1:].argmax(-1)
        _sync()
        start = perf_counter()
        for _ in range(steps):
            out = model(input_ids=token, past_key_values=cache, use_cache=True)
            token = out.logits[:, -1:].argmax(-1)
        _sync()
    return (perf_counter() - start) / steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=1)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--profile-steps", type=int, default=5)
    parser.add_argument("--cuda-graph", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="tiny model on the CPU (self-test)")
    args = parser.parse_args(argv)
    counter = _Counter()
    logging.getLogger("ContinuousBatchingLogger").addHandler(counter)
    if args.tiny:
        model = build_model(ModelSpec("tiny", 64, 128, 2, 4, 2, 1000, 8192), device="cpu")
    else:
        model = build_model(get_model("llama-3-8b"))
    prompts = random_prompts([args.prompt] * args.requests, model.config.vocab_size, 7)
    print(f"plain HF decode step (DynamicCache, ctx {args.prompt}): "
          f"{_plain_decode(model, prompts[0], 20) * 1e3:.1f} ms")
    manager = open_manager(model, CbKnobs(max_batch_tokens=512, num_blocks=2048,
                                          use_cuda_graph=True if args.cuda_graph else None))
    print(resolved_config(manager))
    times, prof = _engine_steps(manager, prompts, args.steps, args.profile_steps)
    for fwd, upd, q in times:
        print(f"step q={q:4d} forward {fwd * 1e3:7.1f} ms update {upd * 1e3:5.2f} ms")
    if prof is not None:
        print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=30))
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=20))
    print("engine log messages:", counter.messages)
    manager.stop(block=True, timeout=10) if manager.is_running() else None
    return 0


if __name__ == "__main__":
    sys.exit(main())
