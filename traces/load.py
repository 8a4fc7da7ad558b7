"""``load_trace``: any supported trace file to one canonical table (see traces.canonical)."""
from __future__ import annotations

from pathlib import Path

from batchsim.inputs import check_regular_file
from batchsim.limits import DEFAULT_LIMITS, Limits
from batchsim.traces.canonical import LoadedTrace
from batchsim.traces.columns import check_size as check_table_size
from batchsim.traces.detect import check_format, detect_format
from batchsim.traces.errors import TraceError
from batchsim.traces.readers.azure import read_azure
from batchsim.traces.readers.burstgpt import read_burstgpt
from batchsim.traces.readers.canonical import read_canonical
from batchsim.traces.readers.mooncake import read_mooncake
from batchsim.traces.readers.sharegpt import read_length_csv, read_sharegpt
from batchsim.traces.readers.token_ids import read_token_ids
from batchsim.traces.readers.vllm_result import read_vllm_result
from batchsim.traces.transforms import spread_ties as spread_equal_arrivals

__all__ = ["LoadedTrace", "load_trace"]


def load_trace(path: str | Path, fmt: str = "auto", *, skip_bad: bool = False,
               model: str | None = None, spread_ties: bool = False, tokenizer: str | None = None,
               sharegpt_filters: bool = False, limits: Limits = DEFAULT_LIMITS) -> LoadedTrace:
    """Read ``path`` in format ``fmt`` ('auto' detects it) into a canonical LoadedTrace.

    Raises TraceError (one line naming the file, line and field) on a malformed file or one whose request count or arrival span passes ``limits``.
    """
    try:
        path = check_regular_file(path, "trace file")
    except ValueError as error:
        raise TraceError(str(error)) from None
    fmt = check_format(fmt)
    if fmt == "auto":
        fmt = detect_format(path)
    if model is not None and fmt != "burstgpt":
        raise TraceError(f"--model filters BurstGPT traces only; {path.name} is {fmt}")
    if (tokenizer is not None or sharegpt_filters) and fmt != "sharegpt":
        raise TraceError(f"--tokenizer and the ShareGPT filters apply to ShareGPT JSON only; "
                         f"{path.name} is {fmt}")
    if fmt == "azure":
        trace = read_azure(path, skip_bad=skip_bad)
    elif fmt == "burstgpt":
        trace = read_burstgpt(path, skip_bad=skip_bad, model=model)
    elif fmt == "mooncake":
        trace = read_mooncake(path, skip_bad=skip_bad)
    elif fmt == "sharegpt":
        trace = read_sharegpt(path, skip_bad=skip_bad, tokenizer=tokenizer,
                              filters=sharegpt_filters)
    elif fmt == "length-csv":
        trace = read_length_csv(path, skip_bad=skip_bad)
    elif fmt == "vllm-result":
        trace = read_vllm_result(path, skip_bad=skip_bad)
    elif fmt == "token-ids":
        trace = read_token_ids(path, skip_bad=skip_bad)
    else:
        trace = read_canonical(path, skip_bad=skip_bad)
    check_size(trace, path, limits)
    if spread_ties:
        table, note = spread_equal_arrivals(trace.table)
        trace.table = table
        trace.notes.append(note)
    return trace


def check_size(trace: LoadedTrace, path: Path, limits: Limits) -> None:
    """Refuse a trace with too many requests or arrivals beyond the stated span."""
    check_table_size(trace.table, path, limits)
