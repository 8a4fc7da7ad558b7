"""The roofline's fast decode pricing gives exactly step_time_s of the same decode step."""
import numpy as np
import pytest

from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.models import get_model
from batchsim.simulator.roofline import RooflineCostModel
from batchsim.simulator.step import StepShape


@pytest.mark.parametrize("model", ["llama-3-8b", "llama-2-70b", "qwen2.5-7b"])
def test_scalar_and_vectorized_decode_prices_equal_step_time(model):
    cost = RooflineCostModel(get_model(model), get_gpu("h200"))
    rng = np.random.default_rng(5)
    for _ in range(50):
        count, steps = int(rng.integers(1, 300)), int(rng.integers(1, 80))
        total = int(rng.integers(count, 3_000_000))
        expected = [cost.step_time_s(StepShape((), count, total + j * count, 100 + j))
                    for j in range(steps)]
        assert list(cost.decode_run_times_s(count, total, 100, steps)) == expected
        assert [cost.decode_step_time_s(count, total + j * count, 100 + j)
                for j in range(steps)] == expected


def test_chunk_step_prices_equal_step_time():
    # the chunk-run shortcut must give step_time_s's float exactly (runs are compared to 1e-9
    # against single steps, and a shortcut that drifted would hide there)
    for gpu in ("h200", "rtx4090"):
        assert_chunk_prices_equal_step_time(RooflineCostModel(
            get_model("llama-3-8b"), get_gpu(gpu), per_sequence_s=1e-5, per_token_s=1e-7))


def assert_chunk_prices_equal_step_time(cost):
    for chunk, cached, count, total, longest in [(1, 0, 0, 0, 0), (2048, 0, 0, 0, 0),
                                                  (255, 4096, 1, 900, 900),
                                                  (1793, 12345, 255, 400_000, 9000),
                                                  (7, 3, 100, 123_456, 4000),
                                                  (130, 0, 300, 600_000, 3000)]:
        shape = StepShape(((chunk, cached),), count, total, longest)
        assert cost.chunk_step_time_s(chunk, cached, count, total, longest) == cost.step_time_s(shape)
