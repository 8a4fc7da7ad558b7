"""Recorded real-engine runs loaded for validation (format: traces/record_format.py)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from batchsim.traces.record_format import validate_record


@dataclass
class Record:
    """One recorded run."""

    data: dict
    source: str

    @property
    def case(self) -> str:
        """The case name."""
        return self.data["case"]

    @property
    def engine(self) -> str:
        """hf_cb or hf_static."""
        return self.data["engine"]

    @property
    def engine_config(self) -> dict:
        """The engine's resolved knobs."""
        return self.data["engine_config"]

    def trace_table(self) -> pd.DataFrame:
        """The requests as a canonical trace; a request that stopped early asks for what it got."""
        reqs = sorted(self.data["requests"], key=lambda r: (r["arrival"], r["i"]))
        return pd.DataFrame({
            "arrival_s": np.array([r["arrival"] for r in reqs], dtype=float),
            "prompt_tokens": np.array([r["in"] for r in reqs], dtype=np.int64),
            "output_tokens": np.array([max(1, r["n_gen"]) for r in reqs], dtype=np.int64),
            "request_id": np.array([r["i"] for r in reqs], dtype=np.int64),
        })


def check_record(data, source: str = "record") -> None:
    """Raise ValueError naming the source and the first field that breaks the format."""
    try:
        validate_record(data, exact_lengths=False)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None


def load_record(path: str) -> Record:
    """Read and check one record file (JSON, safe parser)."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} line {error.lineno}: not valid JSON ({error.msg})") from None
    check_record(data, str(path))
    return Record(data, str(path))
