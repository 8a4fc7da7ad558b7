"""Trace format detection from a file's suffix, header line or first record."""
from __future__ import annotations

import json
from pathlib import Path

from batchsim.inputs import check_regular_file, quote
from batchsim.traces.errors import TraceError
from batchsim.traces.readers.header import read_header

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
FIRST_LINE_BYTES = 1 << 26  # a Mooncake record with a long hash_ids list can pass 64 KB


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
    try:
        path = check_regular_file(path, "trace file")
    except ValueError as error:
        raise TraceError(str(error)) from None
    if path.suffix.lower() == ".parquet":
        return "canonical"
    with open(path, "rb") as handle:
        raw = handle.read(PEEK_BYTES)
    if not raw.strip():
        raise TraceError(f"{path.name}: empty file")
    if raw.startswith(b"\x1f\x8b"):
        raise TraceError(f"{path.name}: gzip-compressed; decompress it first (gunzip)")
    if raw.startswith(b"PAR1"):
        raise TraceError(f"{path.name}: a Parquet file; name it .parquet to read it as canonical")
    if b"\x00" in raw:
        raise TraceError(f"{path.name}: binary data, not a text trace")
    head = raw.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if head.startswith("["):
        return "sharegpt"
    if head.startswith("{"):
        return _json_object_format(path, head)
    header = set(read_header(path))
    for name, needed in _HEADERS:
        if needed <= header:
            return name
    first = head.splitlines()[0] if head else ""
    raise TraceError(f"{path.name}: unknown trace format (first line: {quote(first, 80)}); "
                     f"supported: {supported()}")


def _first_line(path: Path) -> str:
    with open(path, "rb") as handle:
        while True:  # blank lines before the first record
            line = handle.readline(FIRST_LINE_BYTES)
            if not line or line.strip():
                break
    return line.decode("utf-8", errors="replace").lstrip("\ufeff")


def _json_object_format(path: Path, head: str) -> str:
    first_line = _first_line(path)
    try:
        record = json.loads(first_line)
    except (json.JSONDecodeError, RecursionError):
        record = None
    if isinstance(record, dict) and "input_length" in record:
        return "mooncake"
    if isinstance(record, dict) and "input_tok_ids" in record:
        return "token-ids"
    if isinstance(record, dict) and "input_lens" in record:
        return "vllm-result"
    if record is None and '"input_length"' in first_line and '"input_lens"' not in first_line:
        return "mooncake"  # a record the Mooncake reader will report exactly
    if '"input_lens"' in head or record is None:
        return "vllm-result"
    keys = ", ".join(quote(k, 30) for k in list(record)[:10])
    raise TraceError(f"{path.name}: unknown JSON trace (first record keys: {keys}); "
                     f"supported: {supported()}")
