"""vLLM serving-benchmark result JSON (``--save-result --save-detailed``): per-request
``input_lens`` and ``output_lens`` lists. Failed requests have output length 0: dropped and
counted. The file records no arrival times, so every request arrives at 0 s.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from batchsim.inputs import read_json
from batchsim.traces.canonical import LoadedTrace, finish
from batchsim.traces.errors import TraceError
from batchsim.traces.readers.sharegpt import NO_TIMES_NOTE
from batchsim.traces.rows import RowChecker, parse_int

FIELDS = {"arrival_s": "", "prompt_tokens": "input_lens", "output_tokens": "output_lens"}


def read_vllm_result(path: str | Path, *, skip_bad: bool = False) -> LoadedTrace:
    """Read per-request lengths from a vLLM benchmark result JSON."""
    path = Path(path)
    result = _load_object(path)
    inputs, outputs = result.get("input_lens"), result.get("output_lens")
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise TraceError(f"{path.name}: no per-request 'input_lens' and 'output_lens' lists "
                         "(save the benchmark with --save-detailed)")
    if len(inputs) != len(outputs):
        raise TraceError(f"{path.name}, field output_lens: {len(outputs)} entries but "
                         f"input_lens has {len(inputs)}")
    failed = np.array([type(o) is int and o == 0 for o in outputs], dtype=bool)
    notes = [NO_TIMES_NOTE]
    if failed.any():
        notes.append(f"dropped {int(failed.sum())} failed requests (output length 0)")
    keep = ~failed
    checker = RowChecker(path.name, np.flatnonzero(keep) + 1, unit="request",
                         field_word="field")
    table = pd.DataFrame({
        "arrival_s": np.zeros(int(keep.sum())),
        "prompt_tokens": parse_int(pd.Series(inputs, dtype=object)[keep], "input_lens", checker),
        "output_tokens": parse_int(pd.Series(outputs, dtype=object)[keep], "output_lens", checker),
    })
    table = finish(table, checker=checker, fields=FIELDS, skip_bad=skip_bad, notes=notes,
                   shift_to_zero=False)
    return LoadedTrace(table, f"vLLM benchmark result JSON {path}", "vllm-result", None, notes)


def _load_object(path: Path) -> dict:
    try:
        result = read_json(path, what="vLLM result JSON file", allow_constants=True)
    except ValueError as error:
        raise TraceError(str(error)) from None
    if not isinstance(result, dict):
        raise TraceError(f"{path.name}: expected a JSON object (a vLLM benchmark result)")
    return result
