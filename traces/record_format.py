"""The recorded-run JSON format (issue #5): one record per replay of a trace on a real engine.

All times are seconds from the run's start (``time.perf_counter`` at the first arrival's zero).
A record holds the required keys below; extra keys (notes, step logs, warm-up time) are allowed.
Pure Python: the recorder (GPU side) writes records with it and ``batchsim validate`` (CPU side)
reads them with it. Reading accepts records as engines write them: requests that stopped early
(``n_gen`` < ``out``); requests whose timestamps restarted after preemption (transformers 5.17's
soft reset empties a request's ``timestamps``, so it holds fewer ``token_times`` than ``n_gen``);
``use_cuda_graph`` as one boolean or as the engine reports it, a (varlen, decode) pair of
booleans or a mapping with those keys. Writing insists every request generated exactly its
``out`` tokens with one time each.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

ENGINES = ("hf_cb", "hf_static")
REQUIRED_KEYS = ("case", "engine", "model_config", "engine_config", "gpu", "torch", "transformers",
                 "requests")
REQUEST_KEYS = ("i", "arrival", "submit", "in", "out", "n_gen", "token_times")
MODEL_FIELDS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "vocab_size")
CB_INT_KNOBS = ("block_size", "num_blocks", "max_batch_tokens", "max_requests_per_batch")
CB_BOOL_KNOBS = ("use_async_batching",)
CUDA_GRAPH_PATHS = ("varlen", "decode")
# Bounds that keep every count exact in int64 arithmetic (2**63 would wrap to a negative)
MAX_TOKENS = 1 << 31
MAX_INDEX = 1 << 62
# Rounding to microseconds leaves at most half a microsecond of error on any time.
TIME_DECIMALS = 6
# hf_cb records' step log (``steps``: {"columns": [...], "rows": [[...], ...]}), one row a step;
# records before 2026-12-02 lack the last column (no preemption logged)
STEP_LOG_COLUMNS = ("t_start_s", "prepare_s", "forward_s", "update_s", "n_req", "n_decode", "q_tokens",
                    "q_padded", "kv_tokens", "kv_padded", "n_new_tokens", "n_preempted")
_TIME_SLACK_S = 1e-6


def round_time(t_s: float) -> float:
    """A time in seconds rounded to microseconds, as stored in records."""
    return round(float(t_s), TIME_DECIMALS)


def make_request_entry(i: int, arrival_s: float, submit_s: float, prompt_tokens: int,
                       output_tokens: int, token_times_s: Sequence[float]) -> dict:
    """One request's entry; n_gen is the number of token times, all times rounded."""
    return {
        "i": int(i), "arrival": round_time(arrival_s), "submit": round_time(submit_s),
        "in": int(prompt_tokens), "out": int(output_tokens), "n_gen": len(token_times_s),
        "token_times": [round_time(t) for t in token_times_s],
    }


def static_token_times(step_times_s: Sequence[float], output_tokens: int) -> list[float]:
    """A static-batch row's own token times: the first ``output_tokens`` step ends of its batch.

    In a static batch every row receives one token per step until the longest row ends; a request's
    own output is its first ``output_tokens`` tokens, so later steps are padding for it.
    """
    if output_tokens > len(step_times_s):
        raise ValueError(f"batch ran {len(step_times_s)} steps, fewer than a row's {output_tokens} tokens")
    return list(step_times_s[:output_tokens])


def relative_times(stamps_s: Sequence[float], t0_s: float) -> list[float]:
    """Clock stamps (perf_counter seconds) turned into seconds from the run start ``t0_s``."""
    return [s - t0_s for s in stamps_s]


def cuda_graph_paths(value) -> tuple[bool, bool] | None:
    """``use_cuda_graph`` as (varlen, decode) booleans, or None when it is not in a known form:
    one boolean (both paths), a [varlen, decode] pair, or {"varlen": b, "decode": b}."""
    if isinstance(value, bool):
        return value, value
    if isinstance(value, dict) and set(value) == set(CUDA_GRAPH_PATHS):
        value = [value[path] for path in CUDA_GRAPH_PATHS]
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, bool) for v in value):
        return bool(value[0]), bool(value[1])
    return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _require(condition: bool, field: str, problem: str) -> None:
    if not condition:
        raise ValueError(f"record field {field}: {problem}")


def _validate_model_config(config) -> None:
    _require(isinstance(config, dict), "model_config", "must be an object")
    for name in MODEL_FIELDS:
        _require(name in config, f"model_config.{name}", "missing")
        _require(_is_int(config[name]) and config[name] > 0, f"model_config.{name}",
                 "must be a positive integer")


def _validate_engine_config(engine: str, config) -> None:
    _require(isinstance(config, dict), "engine_config", "must be an object")
    if engine == "hf_static":
        _require("batch_size" in config, "engine_config.batch_size", "missing")
        _require(_is_int(config["batch_size"]) and config["batch_size"] > 0,
                 "engine_config.batch_size", "must be a positive integer")
        return
    for name in CB_INT_KNOBS:
        _require(name in config, f"engine_config.{name}", "missing")
        _require(_is_int(config[name]) and config[name] > 0, f"engine_config.{name}",
                 "must be a positive integer")
    for name in CB_BOOL_KNOBS:
        _require(name in config, f"engine_config.{name}", "missing")
        _require(isinstance(config[name], bool), f"engine_config.{name}", "must be a boolean")
    _require("use_cuda_graph" in config, "engine_config.use_cuda_graph", "missing")
    _require(cuda_graph_paths(config["use_cuda_graph"]) is not None, "engine_config.use_cuda_graph",
             "must be a boolean, a [varlen, decode] pair of booleans or a mapping of those keys")
    _require(isinstance(config.get("scheduler_type"), str) and config["scheduler_type"] != "",
             "engine_config.scheduler_type", "must be a non-empty string")


def _validate_request(index: int, entry, exact_lengths: bool) -> None:
    where = f"requests[{index}]"
    _require(isinstance(entry, dict), where, "must be an object")
    for key in REQUEST_KEYS:
        _require(key in entry, f"{where}.{key}", "missing")
    _require(_is_int(entry["i"]) and 0 <= entry["i"] < MAX_INDEX, f"{where}.i",
             f"must be an integer in 0..{MAX_INDEX - 1}")
    for key in ("in", "out"):
        _require(_is_int(entry[key]) and 0 < entry[key] < MAX_TOKENS, f"{where}.{key}",
                 f"must be an integer in 1..{MAX_TOKENS - 1}")
    for key in ("arrival", "submit"):
        _require(_is_number(entry[key]) and entry[key] >= 0, f"{where}.{key}",
                 "must be a non-negative number")
    _require(entry["submit"] >= entry["arrival"] - _TIME_SLACK_S, f"{where}.submit",
             "is before the arrival")
    times = entry["token_times"]
    _require(isinstance(times, list), f"{where}.token_times", "must be a list")
    _require(_is_int(entry["n_gen"]), f"{where}.n_gen", "must be an integer")
    if exact_lengths:
        _require(entry["n_gen"] == len(times), f"{where}.n_gen", "must equal the number of token_times")
        _require(entry["n_gen"] == entry["out"], f"{where}.n_gen",
                 f"is {entry['n_gen']} but out is {entry['out']} (generation stopped early or overran)")
    else:
        _require(entry["n_gen"] >= len(times), f"{where}.n_gen",
                 f"is {entry['n_gen']}, fewer than its {len(times)} token_times")
        _require(entry["n_gen"] <= entry["out"], f"{where}.n_gen",
                 f"is {entry['n_gen']}, more than out {entry['out']}")
    _require(all(_is_number(t) for t in times), f"{where}.token_times", "must hold finite numbers")
    _require(not times or times[0] >= entry["submit"] - _TIME_SLACK_S, f"{where}.token_times",
             "first token is before the submit time")
    _require(all(b >= a for a, b in zip(times, times[1:])), f"{where}.token_times",
             "must be non-decreasing")


def validate_record(record, exact_lengths: bool = True) -> None:
    """Check a record against the format; raise ValueError naming the first bad field."""
    _require(isinstance(record, dict), "(top level)", "must be an object")
    for key in REQUIRED_KEYS:
        _require(key in record, key, "missing")
    _require(isinstance(record["case"], str) and record["case"] != "", "case",
             "must be a non-empty string")
    _require(record["engine"] in ENGINES, "engine", f"must be one of {', '.join(ENGINES)}")
    for key in ("gpu", "torch", "transformers"):
        _require(isinstance(record[key], str) and record[key] != "", key, "must be a non-empty string")
    _validate_model_config(record["model_config"])
    _validate_engine_config(record["engine"], record["engine_config"])
    requests = record["requests"]
    _require(isinstance(requests, list) and requests, "requests", "must be a non-empty list")
    seen: set[int] = set()
    for index, entry in enumerate(requests):
        _validate_request(index, entry, exact_lengths)
        _require(entry["i"] not in seen, f"requests[{index}].i", f"duplicate index {entry['i']}")
        seen.add(entry["i"])


def run_summary(record: dict) -> dict:
    """Headline numbers of a record: duration, output throughput, request count (seconds, tokens)."""
    requests = record["requests"]
    first_arrival_s = min(r["arrival"] for r in requests)
    last_token_s = max(r["token_times"][-1] for r in requests if r["token_times"])
    duration_s = last_token_s - first_arrival_s
    output_tokens = sum(r["n_gen"] for r in requests)
    return {
        "requests": len(requests),
        "duration_s": duration_s,
        "output_tokens": output_tokens,
        "prompt_tokens": sum(r["in"] for r in requests),
        "output_tokens_per_s": output_tokens / duration_s if duration_s > 0 else 0.0,
        "last_arrival_s": max(r["arrival"] for r in requests),
    }
