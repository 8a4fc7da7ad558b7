"""The static-vs-continuous story of the seed articles, as library calls the notebooks use.

``throughput_table`` replays one offline batch (every request arrives at once, as throughput
benchmarks run) under five ways of serving and sets the results beside the published table
(Llama 2 13B, A100 80GB, ShareGPT). "Continuous without paging" reserves each request's whole
context window up front, as engines did before PagedAttention: the KV block size is set to
max_model_len, so a sequence holds one contiguous max-length slot. ``itl_with_long_prompts``
mixes conversational traffic with occasional long prompts and measures P99 inter-token latency
with and without chunked prefill.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from batchsim.planning.scenario import Scenario, run_scenario, with_overrides

# Published figures (tokens/s): Llama 2 13B on an A100 80GB serving ShareGPT (seed article 000).
SEED_TABLE = {
    "naive": ("Naive HuggingFace pipeline", 220),
    "static-8": ("Static batching, batch=8", 850),
    "static-32": ("Static batching, batch=32", 1400),
    "continuous-contiguous": ("Continuous batching (vLLM)", 5100),
    "continuous-paged": ("Continuous batching plus PagedAttention", 6200),
}


def serving_modes(max_model_len: int) -> dict[str, dict]:
    """Scenario overrides for each row of the seed table, plus chunked prefill."""
    return {
        "naive": {"policy": "static", "batch_size": 1},
        "static-8": {"policy": "static", "batch_size": 8},
        "static-32": {"policy": "static", "batch_size": 32},
        "continuous-contiguous": {"policy": "continuous", "block_size": max_model_len},
        "continuous-paged": {"policy": "continuous"},
        "chunked": {"policy": "chunked"},
    }


def offline_batch(table: pd.DataFrame, count: int, max_model_len: int) -> pd.DataFrame:
    """The first ``count`` requests, all arriving at 0, each fitted into ``max_model_len``."""
    batch = table.head(count).copy()
    batch["arrival_s"] = 0.0
    output = np.minimum(batch["output_tokens"].to_numpy(), max_model_len // 2)
    prompt = np.minimum(batch["prompt_tokens"].to_numpy(), max_model_len - output)
    batch["prompt_tokens"], batch["output_tokens"] = prompt, output
    return batch.reset_index(drop=True)


def throughput_table(base: Scenario, table: pd.DataFrame, cost_model=None) -> pd.DataFrame:
    """Output tokens/s of each serving mode on ``table``, next to the published numbers."""
    rows = []
    for key, overrides in serving_modes(_max_len(base, cost_model)).items():
        run = run_scenario(with_overrides(base, overrides), table, cost_model)
        label, published = SEED_TABLE.get(key, ("Continuous batching, chunked prefill", None))
        rows.append({"mode": key, "seed_label": label, "seed_tokens_per_s": published,
                     "batchsim_tokens_per_s": run.summary["output_throughput"],
                     "mean_batch_size": run.summary["mean_batch_size"],
                     "slot_utilization": run.summary["slot_utilization"],
                     "completed": run.summary["completed"]})
    frame = pd.DataFrame(rows)
    naive_seed, naive_sim = SEED_TABLE["naive"][1], frame.loc[0, "batchsim_tokens_per_s"]
    frame["seed_x_naive"] = frame["seed_tokens_per_s"] / naive_seed
    frame["batchsim_x_naive"] = frame["batchsim_tokens_per_s"] / naive_sim
    return frame


def _max_len(base: Scenario, cost_model) -> int:
    if base.serving.max_model_len:
        return base.serving.max_model_len
    from batchsim.planning.costs import build_cost_model
    model = (cost_model or build_cost_model(base.gpu, base.model, base.profile)).model
    return model.max_position_embeddings


def long_prompt_trace(seed: int = 0, duration_s: float = 120.0, rate_per_s: float = 8.0,
                      long_every_s: float = 5.0, long_prompt_tokens: int = 3500) -> pd.DataFrame:
    """Conversational requests (Poisson) plus one long prompt every ``long_every_s`` seconds."""
    rng = np.random.default_rng(seed)
    count = int(duration_s * rate_per_s)
    arrival = np.sort(rng.uniform(0, duration_s, count))
    prompt = np.clip(rng.lognormal(np.log(400), 0.6, count), 16, 2000).astype(np.int64)
    output = np.clip(rng.lognormal(np.log(150), 0.6, count), 8, 500).astype(np.int64)
    long_arrival = np.arange(long_every_s / 2, duration_s, long_every_s)
    arrival = np.concatenate([arrival, long_arrival])
    prompt = np.concatenate([prompt, np.full(long_arrival.size, long_prompt_tokens)])
    output = np.concatenate([output, np.full(long_arrival.size, 32)])
    order = np.argsort(arrival, kind="stable")
    return pd.DataFrame({"arrival_s": arrival[order], "prompt_tokens": prompt[order],
                         "output_tokens": output[order], "request_id": np.arange(order.size)})


def itl_with_long_prompts(base: Scenario, table: pd.DataFrame, cost_model=None,
                          budget_tokens: int = 512) -> pd.DataFrame:
    """Median and P99 ITL (ms) with whole-prompt prefill against chunked prefill."""
    rows = []
    for policy, knobs in (("continuous", {}), ("chunked", {"max_num_batched_tokens": budget_tokens})):
        run = run_scenario(with_overrides(base, {"policy": policy, **knobs}), table, cost_model)
        s = run.summary
        rows.append({"policy": policy, "median_itl_ms": s["median_itl_ms"],
                     "p99_itl_ms": s["p99_itl_ms"], "p99_ttft_ms": s["p99_ttft_ms"],
                     "output_throughput": s["output_throughput"]})
    frame = pd.DataFrame(rows)
    frame["p99_over_median"] = frame["p99_itl_ms"] / frame["median_itl_ms"]
    return frame
