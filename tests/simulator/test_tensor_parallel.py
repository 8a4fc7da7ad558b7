"""Tensor-parallel shards and all-reduce costs from first principles."""
import pytest

from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.models import get_model
from batchsim.simulator.roofline import RooflineCostModel
from batchsim.simulator.step import StepShape
from batchsim.simulator.tensor_parallel import AllReduceModel, TensorParallelCostModel, shard_spec


def test_a_shard_holds_one_tth_of_weights_and_kv():
    model = get_model("llama-3-70b")
    shard = shard_spec(model, 4)
    assert shard.num_attention_heads == 16 and shard.num_key_value_heads == 2
    assert shard.hidden_size == model.hidden_size and shard.head_dim == model.head_dim
    assert shard.kv_bytes_per_token * 4 == model.kv_bytes_per_token
    # Q, K, V, O and the three MLP matrices each lose three quarters of their columns or rows;
    # 8192 * (8192 + 2*1024 + 8192 + 3*28672) / 4 parameters per layer
    assert shard.layer_params * 4 == model.layer_params
    assert shard.layer_params == 8192 * (8192 + 2 * 1024 + 8192 + 3 * 28672) // 4
    assert shard.embedding_params * 4 == model.embedding_params


def test_indivisible_degrees_are_rejected():
    with pytest.raises(ValueError, match="not divisible"):
        shard_spec(get_model("llama-3-8b"), 3)


def test_ring_allreduce_time():
    link = AllReduceModel(link_bytes_per_s=100e9, latency_s=1e-5, efficiency=1.0)
    # 8 GPUs, 1 MB: each sends 2 * 7/8 MB = 1.75 MB at 100 GB/s = 17.5 us, plus 10 us
    assert link.time_s(1e6, 8) == pytest.approx(27.5e-6)
    assert link.time_s(1e6, 1) == 0.0


def test_tp_step_adds_two_allreduces_per_layer():
    model = get_model("llama-3-70b")
    gpu = get_gpu("h200")
    shard = RooflineCostModel(shard_spec(model, 4), gpu)
    link = AllReduceModel(gpu.nvlink_bytes_per_s)
    tp = TensorParallelCostModel(shard, model, 4, link)
    shape = StepShape(((512, 0),), 8, 8000, 1000)
    tokens = 512 + 8
    expected = shard.step_time_s(shape) + 2 * 80 * link.time_s(tokens * 8192 * 2, 4)
    assert tp.step_time_s(shape) == pytest.approx(expected)
    runs = tp.decode_run_times_s(8, 8000, 1000, 3)
    assert runs[2] == pytest.approx(tp.step_time_s(StepShape((), 8, 8016, 1002)))
