"""Trace format detection from a file's suffix, header line or first record."""
from __future__ import annotations

import json
from pathlib import Path

from batchsim.traces.errors import TraceError
from batchsim.traces.readers.csvio import read_header

FORMATS = {
    "canonical": "CSV or Parquet: arrival_s,prompt_tokens,output_tokens[,request_id]",
    "azure": "Azure LLM inference CSV: TIMESTAMP,ContextTokens,GeneratedTokens",
    "burstgpt": "BurstGPT CSV: Timestamp,Model,Request tokens,Response tokens,...",
    "mooncake": 'Mooncake JSONL: {"timestamp", "input_length", "output_length", "hash_ids"}',
    "sharegpt": 'ShareGPT JSON: [{"id", "conversations": [{"from", "value"}]}]',
    "length-csv": "length CSV: num_prefill_tokens,num_decode_tokens,...",
    "vllm-result": "vLLM benchmark result JSON with input_lens and output_lens",
    "token-ids": 'token-id JSONL: {"input_toks", "output_toks", "arrival_time_ns", "input_tok_ids"}',
}
_HEADERS = [
    ("canonical", {"arrival_s", "prompt_tokens", "output_tokens"}),
    ("azure", {"TIMESTAMP", "ContextTokens", "GeneratedTokens"}),
    ("burstgpt", {"Timestamp", "Request tokens", "Response tokens"}),
    ("length-csv", {"num_prefill_tokens", "num_decode_tokens"}),
]
PEEK_BYTES = 1 << 16


def supported() -> str:
    """The supported format names, for error messages."""
    return ", ".join(FORMATS)


def check_format(fmt: str) -> str:
    """Return ``fmt`` if it is 'auto' or a known format, else raise listing the known ones."""
    if fmt != "auto" and fmt not in FORMATS:
        raise TraceError(f"unknown trace format {fmt!r}; supported: auto, {supported()}")
    return fmt


def detect_format(path: str | Path) -> str:
    """Name the format of ``path`` from its suffix and first bytes, or raise listing formats."""
    path = Path(path)
    if not path.is_file():
        raise TraceError(f"{path}: no such file")
    if path.suffix.lower() == ".parquet":
        return "canonical"
    with open(path, "rb") as handle:
        head = handle.read(PEEK_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if head.startswith("["):
        return "sharegpt"
    if head.startswith("{"):
        return _json_object_format(path, head)
    header = set(read_header(path))
    for name, needed in _HEADERS:
        if needed <= header:
            return name
    first = head.splitlines()[0][:120] if head else "(empty file)"
    raise TraceError(f"{path.name}: unknown trace format (first line: {first!r}); "
                     f"supported: {supported()}")


def _json_object_format(path: Path, head: str) -> str:
    first_line = head.splitlines()[0]
    try:
        record = json.loads(first_line)
    except json.JSONDecodeError:
        record = None
    if isinstance(record, dict) and "input_length" in record:
        return "mooncake"
    if isinstance(record, dict) and "input_tok_ids" in record:
        return "token-ids"
    if '"input_lens"' in head or record is None:
        return "vllm-result"
    raise TraceError(f"{path.name}: unknown JSON trace (first record keys: "
                     f"{', '.join(record)}); supported: {supported()}")
