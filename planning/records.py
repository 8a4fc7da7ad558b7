"""Recorded real-engine runs: the JSON record format, loaded and checked with the safe parser.

A record holds ``case``, ``engine`` (hf_cb or hf_static), ``model_config`` (Hugging Face
fields), ``engine_config`` (resolved knobs), ``gpu``, ``torch``, ``transformers`` and
``requests``: each with ``i``, ``arrival`` and ``submit`` (seconds from the run's start),
``in`` and ``out`` (prompt and requested output tokens), ``n_gen`` and ``token_times``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ENGINES = ("hf_cb", "hf_static")
TOP_FIELDS = {"case": str, "engine": str, "model_config": dict, "engine_config": dict,
              "gpu": str, "torch": str, "transformers": str, "requests": list}
REQUEST_FIELDS = ("i", "arrival", "submit", "in", "out", "n_gen", "token_times")


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
        """The requests as a canonical trace (arrival, prompt and output tokens)."""
        reqs = sorted(self.data["requests"], key=lambda r: (r["arrival"], r["i"]))
        return pd.DataFrame({
            "arrival_s": np.array([r["arrival"] for r in reqs], dtype=float),
            "prompt_tokens": np.array([r["in"] for r in reqs], dtype=np.int64),
            "output_tokens": np.array([r["out"] for r in reqs], dtype=np.int64),
            "request_id": np.array([r["i"] for r in reqs], dtype=np.int64),
        })


def check_record(data, source: str = "record") -> None:
    """Raise ValueError naming the first field that breaks the record format."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a record is a JSON object")
    for name, kind in TOP_FIELDS.items():
        if name not in data:
            raise ValueError(f"{source}: missing field '{name}'")
        if not isinstance(data[name], kind):
            raise ValueError(f"{source}: field '{name}' must be a {kind.__name__}")
    if data["engine"] not in ENGINES:
        raise ValueError(f"{source}: engine '{data['engine']}' is not one of {', '.join(ENGINES)}")
    for index, request in enumerate(data["requests"]):
        where = f"{source}: requests[{index}]"
        if not isinstance(request, dict):
            raise ValueError(f"{where} is not an object")
        for name in REQUEST_FIELDS:
            if name not in request:
                raise ValueError(f"{where}: missing field '{name}'")
        times = request["token_times"]
        if not isinstance(times, list) or len(times) != request["n_gen"]:
            raise ValueError(f"{where}: token_times must list n_gen={request['n_gen']} times")
        if request["in"] < 1 or request["out"] < 1:
            raise ValueError(f"{where}: 'in' and 'out' must be at least 1")
        if times and (any(b < a for a, b in zip(times, times[1:])) or times[0] < request["arrival"]):
            raise ValueError(f"{where}: token_times must be sorted and not precede arrival")


def load_record(path: str) -> Record:
    """Read and check one record file."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} line {error.lineno}: not valid JSON ({error.msg})") from None
    check_record(data, str(path))
    return Record(data, str(path))
