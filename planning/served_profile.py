"""A profile re-timed from served steps: a measured engine profile's setup with the steps of
recorded runs of that same engine configuration in place of its isolated grid points.

The base profile supplies what the runs cannot (model shapes, memory facts, the engine block);
each run must match its engine configuration (``simulator.engine_match``), model shape and GPU,
or the build stops and names what differs. The steps are ``planning.served_steps``; the cost
model's form is then chosen by held-out error over them as for any profile, and the profile's
measured range is the range the runs visited.
"""
from __future__ import annotations

from pathlib import Path

from batchsim.planning.served_static import served_static_steps
from batchsim.planning.served_steps import served_steps
from batchsim.simulator.engine_match import mismatches, profile_settings, record_settings
from batchsim.simulator import profile_fit
from batchsim.simulator.profile_cost import ProfileCostModel, fit_summary, input_padding
from batchsim.simulator.profile_format import read_meta, write_profile

SHAPE_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "vocab_size")


def build_served_profile(base_dir: str | Path, records: list[tuple[str, dict]], out_dir: str | Path,
                         name: str | None = None) -> tuple[Path, list[str]]:
    """Write the served profile of ``records`` ((source, data) pairs) on ``base_dir``'s setup into
    ``out_dir``; returns the directory and one line per run (steps used, left out and why)."""
    base = read_meta(base_dir)
    settings = profile_settings(base)
    steps, lines, budgets, versions, run_lengths = [], [], set(), set(), []
    engines = {str(data.get("engine")) for _, data in records}
    for source, data in records:
        _check_matches(base, settings, source, data)
        try:
            served = served_static_steps(data) if data.get("engine") == "hf_static" else served_steps(data)
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None
        if not served.steps:
            reasons = ", ".join(sorted(served.skipped)) or "no steps"
            raise ValueError(f"{source}: no served steps to use ({reasons})")
        steps += served.steps
        run_lengths.append(len(served.steps))
        if "max_batch_tokens" in data["engine_config"]:
            budgets.add(int(data["engine_config"]["max_batch_tokens"]))
        versions.add((str(data.get("torch")), str(data.get("transformers"))))
        left = sum(served.skipped.values())
        why = "; ".join(f"{count} {reason}" for reason, count in sorted(served.skipped.items()))
        lines.append(f"{source}: {len(served.steps)} of {served.logged} steps" + (f" ({left} left out: {why})" if left else ""))
    if len(versions) > 1:
        raise ValueError("runs recorded under different torch/transformers versions: "
                         + ", ".join(f"{t}/{x}" for t, x in sorted(versions)))
    torch_version, transformers_version = versions.pop()
    meta = {key: value for key, value in base.items() if key not in ("format", "fit", "grid", "timing")}
    meta["name"] = name or Path(out_dir).name
    meta["environment"] = {**base.get("environment", {}), "torch": torch_version, "transformers": transformers_version}
    if budgets:
        meta["engine"] = {**base.get("engine", {}), "max_batch_tokens_profiled": sorted(budgets)}
    meta["served_from"] = {"base_profile": base.get("name"), "runs": [data.get("case") for _, data in records],
                           "steps": len(steps), "steps_per_run": run_lengths}
    meta["timing"] = ({"statistic": "one served step a row: host preparation + forward with sync + update",
                       "timer": "host clock (the recorder's step log)"} if engines == {"hf_cb"} else
                      {"statistic": "one served step a row: a batch's prefill to its first token, then "
                                    "each gap between its step ends",
                       "timer": "host clock (the recorder's batch log and token times)"})
    meta["grid"] = {"points": len(steps), "ok": len(steps), "failed": []}
    meta["fit"] = fit_summary(steps, input_padding(meta))
    meta["served_from"]["price_ratio_per_run"] = run_price_ratios(meta, steps, run_lengths)
    return write_profile(out_dir, meta, steps), lines


def run_price_ratios(meta: dict, steps: list, run_lengths: list[int]) -> list[float]:
    """Each run's served time over the profile's price of the same steps (sums over the run).

    The spread of these is the profile's error bar for a single run: a host-bound engine serves
    the same trace at different speeds on different hosts (records/diagnostics/h200-2026-12-02c),
    and one profile prices them all at one speed.
    """
    cost = ProfileCostModel(meta, steps, source=str(meta.get("name")))
    priced_s = profile_fit.predict(cost.fitted, cost.feats)
    served_s = cost.times_s
    ratios, start = [], 0
    for length in run_lengths:
        ratios.append(round(float(served_s[start:start + length].sum() / priced_s[start:start + length].sum()), 3))
        start += length
    return ratios


def _check_matches(base: dict, settings: dict, source: str, data: dict) -> None:
    if data.get("engine") not in ("hf_cb", "hf_static"):
        raise ValueError(f"{source}: engine {data.get('engine')!r}: served steps come from hf_cb step "
                         f"logs or hf_static batch logs")
    differ = mismatches(settings, record_settings(str(data.get("engine")), data.get("engine_config") or {}))
    if differ:
        raise ValueError(f"{source}: engine configuration differs from profile {base.get('name')}: {'; '.join(differ)}")
    model, ours = data.get("model_config") or {}, base.get("model") or {}
    shape = [key for key in SHAPE_KEYS if key in model and key in ours and int(model[key]) != int(ours[key])]
    if shape:
        raise ValueError(f"{source}: model shape differs from profile {base.get('name')}: {', '.join(shape)}")
    gpu = str(base.get("environment", {}).get("gpu_name", ""))
    if gpu and str(data.get("gpu")) != gpu:
        raise ValueError(f"{source}: GPU {data.get('gpu')!r}, profile {base.get('name')} measured {gpu!r}")
