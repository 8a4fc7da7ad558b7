"""The elevator demo: a few dozen requests under static and under continuous batching.

Both runs replay the same requests on one replica with the same batch limit (8): static
batching (``batch_size`` 8, padded, admits only when the whole batch is done) against continuous
batching (``max_num_seqs`` 8, refills a slot as soon as its request finishes). Output lengths
are spread widely (16 to 512 tokens, log-uniform) because that spread is what static batching
wastes; arrivals are Poisson. Returns requests tables (requests.csv columns).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from batchsim.planning.scenario import Scenario, run_scenario
from batchsim.simulator.config import ServingConfig
from batchsim.simulator.export import requests_frame

DEMO_REQUESTS = 36
DEMO_RATE_PER_S = 6.0
DEMO_SLOTS = 8


def demo_trace(seed: int = 0, count: int = DEMO_REQUESTS) -> pd.DataFrame:
    """A canonical trace of ``count`` requests with widely spread output lengths."""
    rng = np.random.default_rng(seed)
    arrival_s = np.concatenate(([0.0], np.cumsum(rng.exponential(1 / DEMO_RATE_PER_S, count - 1))))
    return pd.DataFrame({
        "arrival_s": arrival_s,
        "prompt_tokens": rng.integers(128, 1024, count),
        "output_tokens": np.exp(rng.uniform(np.log(16), np.log(512), count)).astype(np.int64),
        "request_id": np.arange(count),
    })


def demo_runs(seed: int = 0, model: str = "llama-3-8b", gpu: str = "h200") -> list[tuple]:
    """[(title, requests table, slots, static?)] for static and continuous batching."""
    table = demo_trace(seed)
    runs = []
    for policy in ("static", "continuous"):
        serving = ServingConfig(policy=policy, batch_size=DEMO_SLOTS, max_num_seqs=DEMO_SLOTS)
        run = run_scenario(Scenario(gpu=gpu, model=model, profile="roofline", serving=serving),
                           table)
        knob = "batch_size" if policy == "static" else "max_num_seqs"
        runs.append((f"{policy} batching ({knob}={DEMO_SLOTS})", requests_frame(run.result),
                     DEMO_SLOTS, policy == "static"))
    return runs
