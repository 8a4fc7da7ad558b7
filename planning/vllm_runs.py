"""Real vLLM runs read as ``ObservedRun``s: run folders and ``vllm bench serve`` results.

A run folder holds ``requests.jsonl`` (one request a line: ``input_toks``, ``output_toks`` and
the engine's monotonic ``queued_ts``, ``first_token_ts``, ``last_token_ts`` in seconds) and
``meta.json`` (``model``, ``engine_kwargs``, and where recorded ``kv_cache`` and ``hardware``).
Latencies are measured on the engine's clock from ``queued_ts``; arrivals are queued_ts offsets
from the first. There are no per-token times, so no ITL; TPOT = (last - first) / (output - 1).

``vllm bench serve --save-result --save-detailed`` writes one JSON object with per-request lists
``input_lens``, ``output_lens``, ``ttfts``, ``itls`` (seconds) and, in recent versions,
``start_times`` (the client's send times); a request with an error or no output is left out.
The file holds no engine settings: they come from the caller or vLLM's defaults, and the report
says which.

The run is simulated with the ``vllm`` policy (vLLM v1's scheduler) and the engine's resolved
settings: max_num_seqs, max_num_batched_tokens, block size, num_gpu_blocks (computed from memory
as vLLM sizes it when not recorded), max_model_len, gpu_memory_utilization, prefix caching (on,
vLLM v1's default, when not recorded; prefix identity from the token ids of the workload the run
replayed, where it lies beside the run); vLLM v1 keeps no free-block watermark.

A run folder may also hold ``llmservingsim_config.json``, the hardware description its publisher
recorded for the GPU it ran on; its memory bandwidth (``npu_mem.mem_bw``, GB/s) replaces the
catalog datasheet's when the GPU comes from the run itself (not from ``--gpu``), and the report
says so. The published RTX PRO 6000 run records 1,597 GB/s: what its memory clock gives (12,481
MHz as NVML reports it, x 2 x 512 bits; the same arithmetic gives the RTX 4090's and RTX 5090's
datasheet 1,008 and 1,792 GB/s), where the Workstation Edition datasheet says 1,792 GB/s.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from batchsim.planning.observed import ObservedRun, requests_from_columns
from batchsim.planning.records import gpu_from_device_name
from batchsim.simulator.config import ServingConfig
from batchsim.simulator.cost import MemoryFacts
from batchsim.simulator.hardware import GpuSpec, get_gpu
from batchsim.simulator.models import MODELS, ModelSpec, get_model
from batchsim.simulator.roofline import RESERVED_BYTES

# Profile modes that price steps as vLLM runs them (CUDA-graph decode), best first.
VLLM_MODES = ("cuda-graph",)
VLLM_DEFAULT_BUDGET = 2048  # vLLM's online-serving default for max_num_batched_tokens
VLLM_DEFAULT_SEQS = 256
REQUEST_FIELDS = ("input_toks", "output_toks", "queued_ts", "first_token_ts", "last_token_ts")
BENCH_LISTS = ("input_lens", "output_lens", "ttfts", "itls")


def is_vllm_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is a vLLM run folder (requests.jsonl and meta.json)."""
    path = Path(path)
    return (path / "requests.jsonl").is_file() and (path / "meta.json").is_file()


def is_bench_result(data) -> bool:
    """Whether a parsed JSON object is a ``vllm bench serve --save-detailed`` result."""
    return isinstance(data, dict) and all(key in data for key in ("ttfts", "input_lens"))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}, line {error.lineno}: not valid JSON ({error.msg})") from None


def _model_named(name: str | None, source: str) -> ModelSpec:
    """Catalog model of a Hugging Face id ('meta-llama/Llama-3.1-8B' -> llama-3.1-8b)."""
    key = str(name or "").rsplit("/", 1)[-1].lower()
    if key in MODELS:
        return MODELS[key]
    raise ValueError(f"{source}: key 'model' is {name!r}, not in the catalog ({', '.join(MODELS)}); "
                     f"pass --model with its config.json")


def _positive(values: dict, key: str, source: str, default=None):
    value = values.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{source}: key '{key}' must be a positive number, got {value!r}")
    return value


def vllm_serving(meta: dict, model: ModelSpec, gpu: GpuSpec, source: str,
                 overrides: dict | None = None) -> tuple[ServingConfig, list[str]]:
    """The knobs that mirror a vLLM engine, and notes on what was assumed."""
    kwargs = meta.get("engine_kwargs") or {}
    cache = meta.get("kv_cache") or {}
    notes = []
    budget = _positive(kwargs, "max_num_batched_tokens", f"{source}: engine_kwargs")
    seqs = _positive(kwargs, "max_num_seqs", f"{source}: engine_kwargs")
    if budget is None or seqs is None:
        notes.append(f"engine settings not recorded: vLLM defaults max_num_batched_tokens "
                     f"{VLLM_DEFAULT_BUDGET}, max_num_seqs {VLLM_DEFAULT_SEQS} unless given")
    block = int(_positive(cache, "block_size", f"{source}: kv_cache", 16))
    utilization = float(_positive(cache, "gpu_memory_utilization", f"{source}: kv_cache", 0.9))
    max_len = _positive(kwargs, "max_model_len", f"{source}: engine_kwargs")
    prefix_caching = cache.get("enable_prefix_caching")
    if prefix_caching is None:
        notes.append("prefix caching not recorded: on, vLLM v1's default")
    serving = ServingConfig(
        policy="vllm", enable_prefix_caching=prefix_caching is not False, max_num_batched_tokens=int(budget or VLLM_DEFAULT_BUDGET),
        max_num_seqs=int(seqs or VLLM_DEFAULT_SEQS), block_size=block,
        max_model_len=int(max_len or model.max_position_embeddings),
        gpu_memory_utilization=utilization, watermark=0.0,
        kv_blocks=_positive(cache, "num_gpu_blocks", f"{source}: kv_cache"))
    serving = replace(serving, **{k: v for k, v in (overrides or {}).items() if v is not None})
    if serving.kv_blocks is None:
        memory = MemoryFacts(gpu.memory_bytes, model.weight_bytes, model.kv_bytes_per_token,
                             RESERVED_BYTES)
        blocks = memory.kv_capacity_blocks(block, utilization)
        serving = replace(serving, kv_blocks=blocks)
        notes.append(f"KV blocks not recorded: {blocks:,} blocks of {block} computed as "
                     f"{gpu.memory_bytes / 2**30:.0f} GiB x {utilization:g} - weights "
                     f"{model.weight_bytes / 1e9:.1f} GB - {RESERVED_BYTES / 2**30:.0f} GiB activation "
                     f"reserve, over {model.kv_bytes_per_token // 1024} KiB of KV per token")
    return serving, notes


def _request_rows(path: Path) -> list[dict]:
    rows = []
    with open(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {line_number}: not valid JSON ({error.msg})") from None
            for key in REQUEST_FIELDS:
                value = row.get(key) if isinstance(row, dict) else None
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise ValueError(f"{path}, line {line_number}: key '{key}' must be a number, "
                                     f"got {value!r}")
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no requests")
    return rows


def _request_number(row: dict, default: int) -> int:
    match = re.search(r"(\d+)$", str(row.get("request_id", "")))
    return int(match.group(1)) if match else default


def prefix_block_ids(token_ids: list, block_tokens: int) -> tuple[int, ...]:
    """Ids of a prompt's full blocks of ``block_tokens`` tokens, each naming the whole prefix up
    to its block's end (a chain hash: equal ids = equal prefix, as Mooncake's hash_ids)."""
    ids, parent = [], 0
    for start in range(0, len(token_ids) - block_tokens + 1, block_tokens):
        parent = hash((parent, tuple(token_ids[start:start + block_tokens]))) & (2**62 - 1)
        ids.append(parent)
    return tuple(ids)


def _workload_prefixes(directory: Path, meta: dict, rows: list[dict], block_tokens: int):
    """Prefix ids per request from the workload file the run replayed (its ``input_tok_ids``),
    looked for by name beside the run folder; None when absent or not matching the run."""
    name = Path(str(meta.get("dataset_path") or "")).name
    candidates = [folder / name for folder in (directory, directory.parent)] if name else []
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        return None, None
    prompts = []
    with open(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    prompts.append(json.loads(line).get("input_tok_ids"))
                except (json.JSONDecodeError, AttributeError):
                    raise ValueError(f"{path}, line {line_number}: not a JSON object") from None
    numbers = [_request_number(r, i) for i, r in enumerate(rows)]
    if any(n >= len(prompts) or not isinstance(prompts[n], list)
           or len(prompts[n]) != int(rows[i]["input_toks"]) for i, n in enumerate(numbers)):
        return None, f"workload {path.name} does not match the run's prompts: no prefix identity"
    return [prefix_block_ids(prompts[n], block_tokens) for n in numbers], path.name


HARDWARE_FILE = "llmservingsim_config.json"


def recorded_memory_bandwidth(directory: Path) -> float | None:
    """Bytes/s of device memory the run's hardware description records (see module docstring);
    None when the folder has none or it names no single positive figure."""
    path = directory / HARDWARE_FILE
    if not path.is_file():
        return None
    data = _read_json(path)
    figures = set()
    for node in (data.get("nodes") or []) if isinstance(data, dict) else []:
        for instance in (node.get("instances") or []) if isinstance(node, dict) else []:
            memory = instance.get("npu_mem") if isinstance(instance, dict) else None
            value = memory.get("mem_bw") if isinstance(memory, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and value > 0):
                raise ValueError(f"{path}: key 'npu_mem.mem_bw' must be a positive number (GB/s), "
                                 f"got {value!r}")
            figures.add(float(value))
    return figures.pop() * 1e9 if len(figures) == 1 else None


def load_vllm_run(directory: str | Path, model=None, gpu=None,
                  overrides: dict | None = None) -> ObservedRun:
    """Read a vLLM run folder (see module docstring); ``model``/``gpu`` override meta.json."""
    directory = Path(directory)
    meta_path = directory / "meta.json"
    meta = _read_json(meta_path)
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path}: expected a JSON object")
    spec = get_model(model) if model else _model_named(meta.get("model"), str(meta_path))
    notes = []
    if gpu:
        gpu_spec = get_gpu(gpu)
    elif (meta.get("hardware") or {}).get("device_name"):
        gpu_spec = gpu_from_device_name(meta["hardware"]["device_name"], str(meta_path))
    else:
        gpu_spec = gpu_from_device_name(directory.name, f"{meta_path} (no hardware; folder name)")
        notes.append(f"GPU not recorded: {gpu_spec.name} taken from the folder name")
    bandwidth = None if gpu else recorded_memory_bandwidth(directory)
    if bandwidth and bandwidth != gpu_spec.hbm_bytes_per_s:
        notes.append(f"memory bandwidth {bandwidth / 1e9:,.0f} GB/s as the run's {HARDWARE_FILE} "
                     f"records it (the {gpu_spec.name} datasheet says "
                     f"{gpu_spec.hbm_bytes_per_s / 1e9:,.0f} GB/s)")
        gpu_spec = replace(gpu_spec, hbm_bytes_per_s=bandwidth)
    rows = _request_rows(directory / "requests.jsonl")
    queued = np.array([r["queued_ts"] for r in rows], dtype=float)
    requests = requests_from_columns(
        [_request_number(r, i) for i, r in enumerate(rows)], queued - queued.min(),
        np.array([r["first_token_ts"] for r in rows]) - queued.min(),
        np.array([r["last_token_ts"] for r in rows]) - queued.min(),
        [int(r["input_toks"]) for r in rows], [int(r["output_toks"]) for r in rows])
    serving, setting_notes = vllm_serving(meta, spec, gpu_spec, str(meta_path), overrides)
    prefixes, workload = _workload_prefixes(directory, meta, rows, serving.block_size)
    if prefixes is None:
        if workload:
            notes.append(workload)
        return ObservedRun(directory.name, "vllm", str(directory), requests, spec, gpu_spec,
                           serving, VLLM_MODES, tuple(notes + setting_notes))
    notes.append(f"prefix identity from the token ids of {workload}")
    order = {n: i for i, n in enumerate(_request_number(r, i) for i, r in enumerate(rows))}
    ordered = tuple(prefixes[order[n]] for n in requests.request_id.tolist())
    return ObservedRun(directory.name, "vllm", str(directory), requests, spec, gpu_spec, serving,
                       VLLM_MODES, tuple(notes + setting_notes), ordered, serving.block_size)


def load_bench_result(path: str | Path, data: dict, model=None, gpu=None,
                      overrides: dict | None = None) -> ObservedRun:
    """A ``vllm bench serve --save-detailed`` result (see module docstring)."""
    source = str(path)
    for key in BENCH_LISTS:
        if not isinstance(data.get(key), list):
            raise ValueError(f"{source}: key '{key}' must be a list")
    count = len(data["ttfts"])
    if any(len(data[key]) != count for key in BENCH_LISTS):
        raise ValueError(f"{source}: keys {', '.join(BENCH_LISTS)} must have one entry per request")
    starts = data.get("start_times")
    notes = []
    if not isinstance(starts, list) or len(starts) != count:
        if data.get("request_rate") not in ("inf", None, float("inf")):
            raise ValueError(f"{source}: key 'start_times' missing: needed to replay arrivals at "
                             f"request_rate {data.get('request_rate')!r} (vLLM >= 0.10 saves it)")
        starts = [0.0] * count
        notes.append("no start_times: every request taken to arrive at time 0 (request_rate inf)")
    errors = data.get("errors") or [""] * count
    ok = [i for i in range(count) if not errors[i] and data["output_lens"][i] > 0
          and data["ttfts"][i] and data["ttfts"][i] > 0]
    if not ok:
        raise ValueError(f"{source}: no successful requests")
    if len(ok) < count:
        notes.append(f"{count - len(ok)} failed request(s) left out")
    start = np.array([starts[i] for i in ok], dtype=float)
    first = start + np.array([data["ttfts"][i] for i in ok], dtype=float)
    last = first + np.array([sum(data["itls"][i]) for i in ok], dtype=float)
    requests = requests_from_columns(
        ok, start - start.min(), first - start.min(), last - start.min(),
        [data["input_lens"][i] for i in ok], [data["output_lens"][i] for i in ok],
        itl_gaps_s=np.concatenate([np.asarray(data["itls"][i], dtype=float) for i in ok]))
    spec = get_model(model) if model else _model_named(data.get("model_id"), source)
    if not gpu:
        raise ValueError(f"{source}: a vllm bench result does not name its GPU; pass --gpu")
    gpu_spec = get_gpu(gpu)
    serving, setting_notes = vllm_serving({}, spec, gpu_spec, source, overrides)
    return ObservedRun(Path(path).stem, "vllm", source, requests, spec, gpu_spec, serving,
                       VLLM_MODES, tuple(notes + setting_notes))
