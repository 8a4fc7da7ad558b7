"""Any real run validate and calibrate read, by what the path holds: a vLLM run folder, a
``vllm bench serve`` result JSON, or one of our records (traces/record_format.py)."""
from __future__ import annotations

import json
from pathlib import Path

from batchsim.planning.observed import ObservedRun
from batchsim.planning.records import check_record, observed_run, Record
from batchsim.planning.vllm_runs import is_bench_result, is_vllm_run_dir, load_bench_result, load_vllm_run
from batchsim.simulator.hardware import get_gpu


def load_observed_run(path: str, model=None, gpu=None, overrides: dict | None = None) -> ObservedRun:
    """The run at ``path``; ``model``/``gpu`` (names or files) and serving ``overrides`` replace
    what the run states or lacks. Errors name the file and field."""
    if Path(path).is_dir():
        if not is_vllm_run_dir(path):
            raise ValueError(f"{path}: a run folder needs requests.jsonl and meta.json")
        return load_vllm_run(path, model, gpu, overrides)
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} line {error.lineno}: not valid JSON ({error.msg})") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read ({error.strerror})") from None
    if is_bench_result(data):
        return load_bench_result(path, data, model, gpu, overrides)
    check_record(data, str(path))
    return observed_run(Record(data, str(path)), get_gpu(gpu) if gpu else None)
