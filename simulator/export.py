"""Write a simulation's per-request and per-step tables and its summary to a directory.

The directory appears whole or not at all (batchsim.atomic.output_directory): files are written
into a staging folder beside it, a completion manifest is added, and the folder replaces the
target in one rename, so an interrupted or failed run never leaves a mix of old and new files.
A writer with more to write (e.g. rows streamed in chunks) opens ``output_directory`` itself and
writes any files under the folder it yields.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from batchsim.atomic import output_directory, write_json
from batchsim.simulator.metrics import STEP_COLUMNS
from batchsim.simulator.simulation import SimulationResult
from batchsim.simulator.summary import request_table


def requests_frame(result: SimulationResult) -> pd.DataFrame:
    """One row per request, with status and reason."""
    table = request_table(result)
    frame = pd.DataFrame({
        "request_id": [r.request_id for r in result.requests],
        "arrival_s": table["arrival_s"], "first_token_s": table["first_token_s"],
        "finish_s": table["finish_s"], "prompt_tokens": table["prompt_tokens"],
        "output_tokens": table["output_tokens"], "ttft_s": table["ttft_s"],
        "tpot_s": table["tpot_s"], "e2e_s": table["e2e_s"], "queue_s": table["queue_s"],
        "preemptions": table["preemptions"],
        "status": [r.status for r in result.requests],
        "reason": [r.reason for r in result.requests],
        "replica": [r.replica for r in result.requests],
    })
    return frame


def steps_frame(result: SimulationResult) -> pd.DataFrame:
    """One row per simulated step."""
    steps = result.recorder.steps
    return pd.DataFrame({name: np.frombuffer(steps[name], dtype=np.float64 if name.endswith("_s")
                                             else np.int64) for name in STEP_COLUMNS})


def write_outputs(result: SimulationResult, summary: dict, directory: str) -> list[Path]:
    """Write requests.csv, steps.csv and summary.json (strict JSON: no NaN) as one set."""
    names = ["requests.csv", "steps.csv", "summary.json"]
    with output_directory(directory, "batchsim replay") as staging:
        requests_frame(result).to_csv(staging / names[0], index=False, float_format="%.9g")
        steps_frame(result).to_csv(staging / names[1], index=False, float_format="%.9g")
        write_json(staging / names[2], summary)
    return [Path(directory) / name for name in names]
