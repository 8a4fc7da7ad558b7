"""A cost model against a recorded engine's own step log, step by step (seconds).

hf_cb records log every engine step: host prepare, forward (with its sync), update, and the batch
(requests, decodes, query and KV tokens). A decode-only step (every scheduled request decodes one
token) is a step shape the cost model prices directly: D decodes reading ``kv_tokens`` KV tokens,
``kv_tokens - D`` of them cached. The log does not carry the longest context, so the mean stands in
(only a profile whose form has the padded-decode term reads it). This is a yardstick for profiles:
nothing is fitted to it.
"""
from __future__ import annotations

import numpy as np

from batchsim.planning.records import Record
from batchsim.planning.served_steps import step_log_columns
from batchsim.simulator.step import StepShape

DECODE_BINS = ((1, 3), (3, 8), (8, 16), (16, 64))


def decode_steps(record: Record) -> dict[str, np.ndarray]:
    """Decode-only steps of an hf_cb record: decodes, KV tokens read and wall seconds per step."""
    try:
        col = step_log_columns(record.data.get("steps"))
    except ValueError as error:
        raise ValueError(f"{record.source}: {error}") from None
    if not col:
        raise ValueError(f"{record.source}: no step log in the hf_cb format (hf_cb records carry one)")
    decode_only = (col["n_req"] > 0) & (col["n_decode"] == col["n_req"]) & (col["q_tokens"] == col["n_decode"])
    return {"decodes": col["n_decode"][decode_only].astype(np.int64),
            "kv_tokens": col["kv_tokens"][decode_only].astype(np.int64),
            "real_s": (col["prepare_s"] + col["forward_s"] + col["update_s"])[decode_only]}


def predict_decode_steps(cost_model, decodes: np.ndarray, kv_tokens: np.ndarray) -> np.ndarray:
    """The cost model's seconds for each logged decode step."""
    return np.array([cost_model.step_time_s(StepShape((), int(n), int(kv - n), int((kv - n) // n)))
                     for n, kv in zip(decodes, kv_tokens)])


def compare_decode_steps(record: Record, cost_model, bins=DECODE_BINS) -> list[dict]:
    """Per bin of decodes per step: step count, real median and mean (ms), predicted/real ratios."""
    steps = decode_steps(record)
    predicted = predict_decode_steps(cost_model, steps["decodes"], steps["kv_tokens"])
    out = []
    for low, high in bins:
        chosen = (steps["decodes"] >= low) & (steps["decodes"] < high)
        if not chosen.any():
            continue
        real, pred = steps["real_s"][chosen], predicted[chosen]
        out.append({"case": record.case, "decodes": f"{low}-{high - 1}", "steps": int(chosen.sum()),
                    "real_median_ms": 1e3 * float(np.median(real)), "real_mean_ms": 1e3 * float(real.mean()),
                    "median_ratio": float(np.median(pred / real)), "sum_ratio": float(pred.sum() / real.sum())})
    return out
