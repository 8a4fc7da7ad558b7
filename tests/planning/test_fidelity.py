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
from batchsim.planning.validate import compare

RECORDS = sorted((Path(__file__).resolve().parents[2] / "records").glob("*.json"))
METRICS = ("output_throughput", "e2e_p50", "e2e_p99", "ttft_p50")
BELOW = {"output_throughput": 0.05, "e2e_p50": 0.05, "e2e_p99": 0.05, "ttft_p50": 0.10}
OVER = dict.fromkeys(METRICS, 0.15)
# Runs whose offered load exceeds what the engine serves (requests queue or batches grow).
# The issue-12 runs offer 8-12 req/s against the 4-7 req/s the engine serves (a few hundred
# requests in flight), except cb_chat_light_graphs (2.5 req/s, served as they come).
OVERLOADED = {"cb_conv_over", "cb_longoutput_over", "static_conv_b8", "static_conv_b32", "cb_chat_sat512",
              "cb_chat_sat512_graphs", "cb_chat_b2048", "cb_pressure_preempt"}
# Graphs-off (hf_cb default) runs are priced by h200-llama-3-8b-engine, measured on another H200 host
# than the one each of these runs had: that engine is host-bound at small batches, and its small
# decode steps ran 0.67-0.89x as fast in the profile as in these runs' own step logs (README, Fidelity).
ALLOWED = {
    ("cb_conv_light", "ttft_p50"): 0.14,
    ("cb_conv_light", "e2e_p50"): 0.21,
    ("cb_conv_light", "e2e_p99"): 0.20,
    ("cb_conv_near", "output_throughput"): 0.09,
    ("cb_conv_near", "ttft_p50"): 0.21,
    ("cb_conv_near", "e2e_p50"): 0.15,
    ("cb_conv_near", "e2e_p99"): 0.10,
    ("cb_conv_over", "ttft_p50"): 0.24,
    ("cb_longoutput_over", "output_throughput"): 0.23,
    ("cb_longoutput_over", "e2e_p50"): 0.23,
    ("cb_longoutput_over", "e2e_p99"): 0.22,
    ("cb_longprompt_near", "ttft_p50"): 0.23,
    ("cb_longprompt_near", "e2e_p50"): 0.17,
    ("cb_longprompt_near", "e2e_p99"): 0.14,
    ("cb_chat_sat512_graphs", "ttft_p50"): 0.21,
    ("cb_pressure_preempt", "ttft_p50"): 0.40,
    ("static_conv_b8", "output_throughput"): 0.28,
    ("static_conv_b8", "ttft_p50"): 0.45,
    ("static_conv_b8", "e2e_p50"): 0.30,
    ("static_conv_b8", "e2e_p99"): 0.33,
    ("static_conv_b32", "ttft_p50"): 0.27,
    ("static_conv_b32", "e2e_p50"): 0.30,
    ("static_conv_b32", "e2e_p99"): 0.24,
}


def test_records_are_present():
    assert len(RECORDS) >= 6


@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_simulation_stays_within_bounds(path):
    comparison = compare(load_record(str(path)))
    errors = {row["metric"]: row["rel_error"] for row in comparison.rows()}
    goals = OVER if comparison.record.case in OVERLOADED else BELOW
    for metric in METRICS:
        bound = ALLOWED.get((comparison.record.case, metric), goals[metric])
        assert abs(errors[metric]) <= bound, (comparison.record.case, metric, errors[metric])
