"""Benchmark traces: canonical tables (arrival_s, prompt_tokens, output_tokens) of any size.

Arrival times come out at a mean rate of one request per second; the benchmark divides them by
the rate it wants. Sources:

- ``synthetic``: the bundled default trace's model (traces/default.py: Azure 2023 conversation
  statistics; Gamma inter-arrivals with coefficient of variation 1.09, prompt and output
  lengths matched to mean / p50 / p99 of 1155 / 1020 / 4142 and 211 / 129 / 601 tokens,
  output at most 1000), drawn for a request count instead of a duration.
- ``azure-conv``: the real Azure 2023 conversation trace, tiled end to end (each copy keeps the
  file's own timestamps and lengths) until it has the requested count.
- ``sharegpt``: ShareGPT length pairs (Vidur's stats file) resampled with replacement, Poisson
  arrivals.
- ``mooncake``: the Mooncake FAST'25 conversation trace, tiled like ``azure-conv``.

Real files live in ``../shared/traces`` next to the repository (override with BATCHSIM_TRACES).
Lengths are left as the files give them: requests the model cannot hold are rejected and counted.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from batchsim.traces.arrivals import gamma_arrivals
from batchsim.traces.default import INTERARRIVAL_CV, default_length_models

ROOT = Path(__file__).resolve().parents[1]
# the shared folder sits next to the main checkout; a worktree one level deeper finds it too
CANDIDATES = [ROOT.parent / "shared" / "traces", ROOT.parent.parent / "shared" / "traces"]
TRACE_DIR = Path(os.environ.get("BATCHSIM_TRACES")
                 or next((p for p in CANDIDATES if p.is_dir()), CANDIDATES[0]))
AZURE_CONV = "azure2023/AzureLLMInferenceTrace_conv.csv"
SHAREGPT = "sharegpt/sharegpt_8k_filtered_stats_llama2_tokenizer.csv"
MOONCAKE = "mooncake/conversation_trace.jsonl"



def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    """Conversation-like trace with the bundled default's statistics, ``n`` requests."""
    rng = np.random.default_rng(seed)
    arrival_s = gamma_arrivals(1.0, INTERARRIVAL_CV, rng, count=n)
    prompt_model, output_model = default_length_models()
    return _table(arrival_s, prompt_model.sample(n, rng), output_model.sample(n, rng))


def _table(arrival_s, prompts, outputs) -> pd.DataFrame:
    return pd.DataFrame({"arrival_s": np.asarray(arrival_s, dtype=float),
                         "prompt_tokens": np.asarray(prompts, dtype=np.int64),
                         "output_tokens": np.asarray(outputs, dtype=np.int64)})


def _tiled(arrival_s: np.ndarray, prompts: np.ndarray, outputs: np.ndarray, n: int) -> pd.DataFrame:
    """Repeat a timestamped trace end to end, then rescale it to one request per second."""
    arrival_s = arrival_s - arrival_s.min()
    order = np.argsort(arrival_s, kind="stable")
    arrival_s, prompts, outputs = arrival_s[order], prompts[order], outputs[order]
    span_s = arrival_s[-1] + float(np.diff(arrival_s).mean())  # one mean gap between copies
    copies = -(-n // len(arrival_s))
    offsets_s = np.repeat(np.arange(copies) * span_s, len(arrival_s))
    tiled_s = (np.tile(arrival_s, copies) + offsets_s)[:n]
    rate = len(arrival_s) / span_s
    return _table(tiled_s * rate, np.tile(prompts, copies)[:n], np.tile(outputs, copies)[:n])


def azure_conv(n: int, seed: int = 0) -> pd.DataFrame:
    """The Azure 2023 conversation trace, tiled to ``n`` requests."""
    frame = pd.read_csv(TRACE_DIR / AZURE_CONV)
    stamps = pd.to_datetime(frame["TIMESTAMP"])
    seconds = (stamps - stamps.min()).dt.total_seconds().to_numpy()
    return _tiled(seconds, frame["ContextTokens"].to_numpy(), frame["GeneratedTokens"].to_numpy(), n)


def sharegpt(n: int, seed: int = 0) -> pd.DataFrame:
    """ShareGPT length pairs resampled with replacement, Poisson arrivals."""
    frame = pd.read_csv(TRACE_DIR / SHAREGPT)
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(frame), n)
    arrival_s = np.concatenate(([0.0], np.cumsum(rng.exponential(1.0, max(n - 1, 0)))))[:n]
    return _table(arrival_s, frame["num_prefill_tokens"].to_numpy()[rows],
                  frame["num_decode_tokens"].to_numpy()[rows])


def mooncake(n: int, seed: int = 0) -> pd.DataFrame:
    """The Mooncake conversation trace (timestamps in ms), tiled to ``n`` requests."""
    with open(TRACE_DIR / MOONCAKE) as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    seconds = np.array([r["timestamp"] for r in rows], dtype=float) / 1000.0
    return _tiled(seconds, np.array([r["input_length"] for r in rows]),
                  np.array([r["output_length"] for r in rows]), n)


SOURCES = {"synthetic": synthetic, "azure-conv": azure_conv, "sharegpt": sharegpt,
           "mooncake": mooncake}
# the model each source is simulated with: Mooncake prompts average 12k tokens, beyond
# Llama-3-8B's 8k window, so it runs on a 32k-context model of the same size class
MODELS = {"mooncake": "qwen2.5-7b"}


def make_table(source: str, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` requests of ``source`` at a mean rate of one per second."""
    try:
        return SOURCES[source](n, seed)
    except KeyError:
        raise ValueError(f"unknown trace source '{source}' (known: {', '.join(SOURCES)})") from None
