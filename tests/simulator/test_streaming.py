"""A streamed run (no per-request values kept) reports what a kept run reports, and its tables
are the same bytes; ended requests are not kept."""
import gc

import numpy as np
import pytest

import batchsim.simulator.metrics as metrics
import batchsim.simulator.outcomes as outcomes
from batchsim.planning.scenario import Scenario, run_scenario, with_overrides
from batchsim.simulator.export import OutputSink
from batchsim.simulator.request import Request
from tests.planning.traces import poisson_trace

SLO = "ttft=0.5s,tpot=50ms"


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few hundred rows, so that a short trace streams many of them."""
    monkeypatch.setattr(metrics, "STREAM_STEP_ROWS", 200)
    monkeypatch.setattr(metrics, "STREAM_CHUNK_REQUESTS", 128)
    monkeypatch.setattr(metrics, "_CHECK_BYTES", 50 * metrics.ROW.itemsize)
    monkeypatch.setattr(outcomes, "FLUSH_REQUESTS", 97)


@pytest.mark.parametrize("policy", ["static", "continuous", "chunked"])
def test_streamed_run_matches_kept_run(policy, small_chunks, tmp_path):
    table = poisson_trace(3000, 30.0, seed=2)
    scenario = with_overrides(Scenario(profile="roofline", slo=SLO), {"policy": policy})
    sinks = {name: OutputSink(str(tmp_path / name)) for name in ("kept", "streamed")}
    kept = run_scenario(scenario, table, sink=sinks["kept"])
    streamed = run_scenario(scenario, table, sink=sinks["streamed"], keep_requests=False)
    for name, run in (("kept", kept), ("streamed", streamed)):
        sinks[name].finish(run.summary)
    for name in ("requests.csv", "steps.csv"):
        assert (tmp_path / "kept" / name).read_bytes() == (tmp_path / "streamed" / name).read_bytes()
    one, two = kept.summary, streamed.summary
    assert one["exact_percentiles"] and not two["exact_percentiles"]
    assert two["sketched_metrics"] == "e2el,queue,tpot,ttft"
    for key in ("completed", "rejected", "rejected_reasons", "total_input_tokens",
                "total_output_tokens", "num_steps", "max_batch_size", "max_waiting",
                "preemptions", "preempted_requests", "duration", "request_goodput",
                "max_concurrent_requests"):
        assert one[key] == two[key], key
    for key in ("gpu_busy_fraction", "mean_batch_size", "mean_kv_usage", "mean_ttft_ms",
                "std_e2el_ms", "mean_tpot_ms", "max_output_tokens_per_s"):
        assert two[key] == pytest.approx(one[key], rel=1e-9), key
    for name in ("ttft", "tpot", "e2el", "queue"):
        for key in (f"median_{name}_ms", f"p90_{name}_ms", f"p99_{name}_ms"):
            assert abs(two[key] - one[key]) <= 0.01 * one[key] + 1e-12, key


def test_requests_kept_after_a_streamed_run_do_not_grow_with_the_trace(small_chunks):
    # only stale entries of the decoding set's lazy heap may still refer to ended requests,
    # and it is rebuilt once they outnumber twice the live members (plus 64)
    for count in (1000, 4000):
        run = run_scenario(Scenario(profile="roofline"), poisson_trace(count, 30.0, seed=4),
                           keep_requests=False)
        gc.collect()
        assert run.summary["completed"] + run.summary["rejected"] == count
        alive = sum(type(o) is Request for o in gc.get_objects())
        assert alive <= 2 * run.summary["max_batch_size"] + 65
        del run


def test_itl_pairs_beyond_the_limit_become_a_sketch(monkeypatch):
    monkeypatch.setattr(metrics, "EXACT_ITL_PAIRS", 500)
    monkeypatch.setattr(metrics, "_CHECK_BYTES", 10 * metrics.ROW.itemsize)
    table = poisson_trace(1500, 30.0, seed=5)
    scenario = Scenario(profile="roofline")
    sketched = run_scenario(scenario, table).summary
    monkeypatch.setattr(metrics, "EXACT_ITL_PAIRS", 10**9)
    exact = run_scenario(scenario, table).summary
    assert sketched["sketched_metrics"] == "itl" and exact["sketched_metrics"] == ""
    assert sketched["mean_itl_ms"] == pytest.approx(exact["mean_itl_ms"], rel=1e-9)
    for key in ("median_itl_ms", "p90_itl_ms", "p99_itl_ms"):
        assert abs(exact[key] - sketched[key]) <= 0.01 * exact[key]
    assert np.isclose(sketched["std_itl_ms"], exact["std_itl_ms"], rtol=1e-6)
