"""Time ProfileCostModel.step_time_s per call (microseconds) on a bundled profile.

Run: PYTHONPATH=. python benchmarks/profile_cost_speed.py [PROFILE]   (output committed as profile_cost_speed.txt)
"""
import sys
import time

import numpy as np

from batchsim.simulator.profile_cost import load_profile_cost_model
from batchsim.simulator.step import StepShape


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "h200-llama-3-8b-engine"
    started = time.perf_counter()
    model = load_profile_cost_model(name)
    load_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    shapes = []
    for _ in range(2000):
        count = int(rng.integers(0, 128))
        contexts = rng.integers(10, 3000, count)
        chunks = tuple((int(rng.integers(1, 2048)), int(rng.integers(0, 2048))) for _ in range(int(rng.integers(0, 3))))
        if not chunks and not count:
            count, contexts = 1, np.array([100])
        shapes.append(StepShape(chunks, count, int(contexts.sum()), int(contexts.max(initial=0))))
    rounds = 50
    started = time.perf_counter()
    for _ in range(rounds):
        for shape in shapes:
            model.step_time_s(shape)
    per_call_us = (time.perf_counter() - started) / (rounds * len(shapes)) * 1e6
    print(f"profile {name}: load and fit {load_s * 1e3:.0f} ms; step_time_s {per_call_us:.2f} us per call "
          f"({rounds * len(shapes)} calls, random steps of 0-2 prefill chunks and 0-127 decodes)")


if __name__ == "__main__":
    main()
