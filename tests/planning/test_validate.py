"""Validation reads records strictly and compares like with like."""
import json

import numpy as np
import pytest

from batchsim.planning.records import Record, check_record, load_record
from batchsim.planning.validate import compare, real_metrics, serving_for
from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.models import get_model
from batchsim.simulator.roofline import RooflineCostModel
from batchsim.simulator.step import StepShape

MODEL = get_model("llama-3-8b")


def lone_request_record(prompts, outputs, gap_s=100.0):
    """Requests far apart on an idle engine: token times follow from the roofline model alone."""
    cost = RooflineCostModel(MODEL, get_gpu("h200"))
    requests = []
    for i, (p, o) in enumerate(zip(prompts, outputs)):
        arrival = i * gap_s
        t = arrival + cost.step_time_s(StepShape(((p, 0),)))
        times = [t]
        for j in range(o - 1):
            t += cost.step_time_s(StepShape((), 1, p + j, p + j))
            times.append(t)
        requests.append({"i": i, "arrival": arrival, "submit": arrival, "in": p, "out": o,
                         "n_gen": o, "token_times": times})
    return {"case": "lone", "engine": "hf_cb", "model_config": MODEL.to_hf_config(),
            "engine_config": {"block_size": 16, "num_blocks": 4096, "max_batch_tokens": 2048,
                              "max_requests_per_batch": 32, "use_cuda_graph": False,
                              "use_async_batching": False, "scheduler_type": "fifo"},
            "gpu": "NVIDIA H200", "torch": "2.11", "transformers": "5.17", "requests": requests}


def test_a_record_of_lone_requests_is_reproduced_exactly():
    record = Record(lone_request_record([300, 1200, 50], [40, 10, 200]), "lone.json")
    comparison = compare(record, profile="roofline")
    for row in comparison.rows():
        assert row["rel_error"] == pytest.approx(0.0, abs=1e-9), row


def test_real_metrics_follow_vllm_definitions():
    data = lone_request_record([100], [3])
    data["requests"][0]["token_times"] = [1.0, 1.5, 2.5]
    data["requests"][0]["arrival"] = 0.5
    metrics = real_metrics(Record(data, "x"))
    assert metrics["ttft_p50"] == pytest.approx(500.0)
    assert metrics["tpot_p50"] == pytest.approx(750.0)
    assert metrics["itl_p50"] == pytest.approx(750.0)  # gaps 500 and 1000 ms
    assert metrics["e2e_p99"] == pytest.approx(2000.0)
    assert metrics["output_throughput"] == pytest.approx(3 / 2.0)


def test_engine_knobs_map_to_policies():
    data = lone_request_record([10], [2])
    serving = serving_for(Record(data, "x"))
    assert (serving.policy, serving.max_num_batched_tokens, serving.max_num_seqs,
            serving.kv_blocks, serving.block_size) == ("chunked", 2048, 32, 4096, 16)
    data["engine"], data["engine_config"] = "hf_static", {"batch_size": 8}
    assert serving_for(Record(data, "x")).policy == "static"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("gpu"), "field gpu: missing"),
    (lambda d: d.update(engine="vllm"), "field engine: must be one of"),
    (lambda d: d["requests"][0].pop("submit"), r"requests\[0\].submit: missing"),
    (lambda d: d["requests"][0].update(n_gen=1), "is 1, fewer than its 2 token_times"),
    (lambda d: d["requests"][0].update(n_gen=5), "is 5, more than out 2"),
    (lambda d: d["engine_config"].update(use_cuda_graph=[True]), "use_cuda_graph: must be a boolean, a"),
    (lambda d: d["requests"][0].update(token_times=[3.0, 2.0]), "non-decreasing"),
    (lambda d: d["requests"][0].update(token_times=[1, 2, 3], n_gen=3), "more than out 2"),
])
def test_bad_records_name_the_field(mutate, message):
    data = lone_request_record([10], [2])
    mutate(data)
    with pytest.raises(ValueError, match=message):
        check_record(data, "run.json")


def test_load_record_reports_json_errors_with_a_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"case": "x",\n "engine": }')
    with pytest.raises(ValueError, match="bad.json line 2"):
        load_record(str(path))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(lone_request_record([10], [2])))
    assert load_record(str(good)).case == "lone"
