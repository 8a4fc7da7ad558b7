"""Served steps of static batching: every step of a recorded ``generate`` (hf_static) run.

An hf_static record logs each batch (dispatch, first token, end, rows, longest prompt, steps,
members), and each member's token times are the batch's step ends up to its own output length
(``traces.record_format.static_token_times``), so the member with the most tokens carries every
step end of its batch. Each batch gives, in the simulator's static shapes (policies/static.py):

- its prefill: every row padded to the longest prompt, timed from dispatch to the first token;
- decode step k (k = 1 .. steps - 1): every row at context ``longest prompt + k - 1``, timed as
  the gap between step ends k - 1 and k.

Why served steps and not the eager profile's grid: ``generate`` runs PyTorch's SDPA, which builds
an attention execution plan the first time it meets a problem shape and caches it per thread.
Each decode step of a real batch meets a new KV length, so it pays that build; a grid point's
timed repeats run shapes its warm-up already built. Measured on one H200 host with the recorder's
speed probe (profiler/speed_probe.py; records/diagnostics/h200-2026-12-02c): 16 rows of a
128-token prompt decoded at 108.9 ms a step at fresh shapes, 36.0 ms when the same shapes ran
again. The grid misses that cost; served steps carry it.
"""
from __future__ import annotations

from batchsim.planning.served_steps import ServedSteps, served_step


def served_static_steps(data: dict) -> ServedSteps:
    """Every prefill and decode step of an hf_static record's batches (``data`` as loaded)."""
    case = str(data.get("case", "record"))
    batches = data.get("batches")
    if data.get("engine") != "hf_static" or not isinstance(batches, list) or not batches:
        return ServedSteps(case, [], 0, {"no batch log": 1})
    by_index = {int(r["i"]): r for r in data["requests"]}
    steps, skipped, logged = [], {}, 0
    for index, batch in enumerate(batches):
        _check_batch(index, batch)
        count = int(batch["steps"])
        logged += count
        members = [by_index.get(int(i)) for i in batch["requests"]]
        reason = _mismatch(batch, members)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + count
            continue
        rows, padded = int(batch["size"]), int(batch["max_in"])
        ends_s = max((m["token_times"] for m in members), key=len)
        steps.append(served_step(((padded, 0),) * rows, [], float(ends_s[0] - batch["dispatch"])))
        for k in range(1, count):
            context = padded + k - 1
            steps.append(served_step((), [context] * rows, float(ends_s[k] - ends_s[k - 1])))
    return ServedSteps(case, steps, logged, skipped)


BATCH_FIELDS = {"dispatch": (int, float), "size": (int,), "max_in": (int,), "steps": (int,), "requests": (list,)}


def _check_batch(index: int, batch) -> None:
    """ValueError naming the batch and field that is missing or of the wrong type."""
    if not isinstance(batch, dict):
        raise ValueError(f"batches[{index}]: must be an object")
    for name, types in BATCH_FIELDS.items():
        value = batch.get(name)
        if value is None:
            raise ValueError(f"batches[{index}].{name}: missing")
        if isinstance(value, bool) or not isinstance(value, types):
            raise ValueError(f"batches[{index}].{name}: must be {' or '.join(t.__name__ for t in types)}")
    if batch["steps"] < 1 or batch["size"] < 1:
        raise ValueError(f"batches[{index}]: size and steps must be at least 1")


def _mismatch(batch: dict, members: list) -> str:
    """Why a batch's steps cannot be read from its log, or "" when they can."""
    if any(m is None for m in members) or len(members) != int(batch["size"]):
        return "batch members differ from the requests"
    if max(int(m["in"]) for m in members) != int(batch["max_in"]):
        return "longest prompt differs from the members'"
    longest = max(len(m["token_times"]) for m in members)
    if longest != int(batch["steps"]) or longest < 1:
        return "step count differs from the members' token times"
    return ""
