"""Write a simulation's per-request and per-step tables and its summary to a directory.

The directory appears whole or not at all (batchsim.atomic.output_directory): files are written
into a staging folder beside it, a completion manifest is added, and the folder replaces the
target in one rename, so an interrupted or failed run never leaves a mix of old and new files.
``OutputSink`` is handed to a Recorder before the run: request rows (in arrival order) and step
rows arrive in chunks as the run goes and are appended to files in the staging folder.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from batchsim.atomic import OutputError, output_directory, write_json
from batchsim.simulator.metrics import STEP_COLUMNS
from batchsim.simulator.simulation import SimulationResult
from batchsim.simulator.summary import request_table

FLOAT_FORMAT = "%.9g"
OUTPUT_NAMES = ("requests.csv", "steps.csv", "summary.json")


def requests_chunk_frame(table: dict) -> pd.DataFrame:
    """Request rows with status and reason, from request-table columns."""
    finished = table["finished"]
    return pd.DataFrame({
        "request_id": table["request_id"],
        "arrival_s": table["arrival_s"], "first_token_s": table["first_token_s"],
        "finish_s": table["finish_s"], "prompt_tokens": table["prompt_tokens"],
        "output_tokens": table["output_tokens"], "ttft_s": table["ttft_s"],
        "tpot_s": table["tpot_s"], "e2e_s": table["e2e_s"], "queue_s": table["queue_s"],
        "preemptions": table["preemptions"],
        "status": np.where(finished, "finished", "rejected").astype(object),
        "reason": table["reason"], "replica": table["replica"],
    })


def requests_frame(result: SimulationResult) -> pd.DataFrame:
    """One row per request, with status and reason."""
    return requests_chunk_frame(request_table(result))


def steps_frame(result: SimulationResult) -> pd.DataFrame:
    """One row per simulated step."""
    steps = result.recorder.steps
    return pd.DataFrame({name: steps[name] for name in STEP_COLUMNS})


class OutputSink:
    """requests.csv, steps.csv and summary.json in ``directory``, written as the run goes."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self._staging_context = output_directory(directory, "batchsim replay")
        staging = self._staging_context.__enter__()
        self._staging = staging
        self._handles = [open(staging / name, "w", newline="", encoding="utf-8")
                         for name in OUTPUT_NAMES[:2]]
        self._started = [False, False]

    def write_requests(self, table: dict) -> None:
        """Append request rows (arrival order)."""
        self._append(0, requests_chunk_frame(table))

    def write_steps(self, columns: dict) -> None:
        """Append step rows (start order)."""
        self._append(1, pd.DataFrame({name: columns[name] for name in STEP_COLUMNS}))

    def _append(self, which: int, frame: pd.DataFrame) -> None:
        try:
            frame.to_csv(self._handles[which], index=False, header=not self._started[which],
                         float_format=FLOAT_FORMAT)
        except OSError as error:  # a full disk: name the output, as every batchsim writer does
            reason = error.strerror or str(error) or type(error).__name__
            raise OutputError(f"{self.directory}: cannot write ({reason})") from None
        self._started[which] = True

    def finish(self, summary: dict) -> list[Path]:
        """Write the summary (strict JSON) and move the set into place; return the paths."""
        for handle in self._handles:
            handle.close()
        write_json(self._staging / OUTPUT_NAMES[2], summary)
        self._staging_context.__exit__(None, None, None)
        return [self.directory / name for name in OUTPUT_NAMES]

    def abandon(self) -> None:
        """Drop the staged files of a run that failed; ``directory`` is left as it was."""
        for handle in self._handles:
            handle.close()
        failure = RuntimeError("run abandoned")
        self._staging_context.__exit__(RuntimeError, failure, None)


def write_outputs(result: SimulationResult, summary: dict, directory: str) -> list[Path]:
    """Write requests.csv, steps.csv and summary.json of a finished run kept in memory."""
    sink = OutputSink(directory)
    try:
        sink.write_requests(request_table(result))
        sink.write_steps(result.recorder.steps)
    except BaseException:
        sink.abandon()
        raise
    return sink.finish(summary)
