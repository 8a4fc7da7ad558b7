"""Which engine configuration a profile was measured under, and whether a run's matches it.

A step's time depends on how the engine runs it, not only on its composition: transformers' engine
takes about 70 ms a small decode step with CUDA graphs off and about 34 ms with them on. A profile
therefore prices only runs of the engine configuration it was measured under. The settings
compared (each only where both the profile and the run state it):

- ``engine``: hf_cb (transformers' continuous batching), hf_static (``generate`` on padded
  batches), batchsim-dense (our own CUDA-graph runner, which prices simulator policies and no
  recorded engine);
- ``attn_implementation``; ``cuda_graph_varlen`` and ``cuda_graph_decode`` (the engine's pair of
  booleans for its two paths); ``async_batching``; ``block_size``;
- ``max_batch_tokens``: the run's token budget must be one the profile was timed under or below
  its largest (a smaller budget only makes smaller steps, and the profile times the prompt chunks
  of each budget it lists under that budget).
"""
from __future__ import annotations

SETTINGS = ("engine", "attn_implementation", "cuda_graph_varlen", "cuda_graph_decode", "async_batching",
            "block_size", "max_batch_tokens")
MODE_ENGINES = {"engine": "hf_cb", "eager": "hf_static", "cuda-graph": "batchsim-dense"}


def graph_pair(value) -> tuple[bool | None, bool | None]:
    """(varlen, decode) from a ``use_cuda_graph`` as engines write it: a boolean, a pair, or None."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return bool(value[0]), bool(value[1])
    if isinstance(value, bool):
        return value, value
    return None, None


def profile_settings(meta: dict) -> dict:
    """The engine configuration a profile states (its ``engine`` block and mode)."""
    settings = {"engine": MODE_ENGINES.get(str(meta.get("mode")))}
    engine = meta.get("engine") or {}
    if engine:
        varlen, decode = graph_pair(engine.get("use_cuda_graph"))
        budgets = engine.get("max_batch_tokens_profiled") or [engine.get("max_batch_tokens")]
        settings.update(attn_implementation=engine.get("attn_implementation"), cuda_graph_varlen=varlen,
                        cuda_graph_decode=decode, async_batching=engine.get("use_async_batching"),
                        block_size=engine.get("block_size"),
                        max_batch_tokens=[int(b) for b in budgets if b is not None] or None)
    return {key: value for key, value in settings.items() if value is not None}


def record_settings(engine: str, config: dict) -> dict:
    """The engine configuration a recorded run reports (``engine_config`` as the engine wrote it)."""
    settings = {"engine": engine}
    if engine != "hf_cb":
        return settings
    varlen, decode = graph_pair(config.get("use_cuda_graph"))
    varlen = config.get("use_cuda_graph_varlen", varlen)
    decode = config.get("use_cuda_graph_decode", decode)
    settings.update(attn_implementation=config.get("attn_implementation"), cuda_graph_varlen=varlen,
                    cuda_graph_decode=decode, async_batching=config.get("use_async_batching"),
                    block_size=config.get("block_size"), max_batch_tokens=config.get("max_batch_tokens"))
    return {key: value for key, value in settings.items() if value is not None}


def mismatches(profile: dict, run: dict) -> list[str]:
    """One phrase per setting that differs, e.g. ``cuda_graph_decode: run true, profile false``."""
    out = []
    for key in SETTINGS:
        if key not in profile or key not in run:
            continue
        ours, theirs = run[key], profile[key]
        if key == "max_batch_tokens":
            if int(ours) in theirs or int(ours) <= max(theirs):
                continue
            theirs = "/".join(str(b) for b in theirs)
        elif ours == theirs:
            continue
        out.append(f"{key}: run {_text(ours)}, profile {_text(theirs)}")
    return out


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
