"""ShareGPT conversations JSON and pre-tokenized length-statistics CSV (no timestamps).

JSON: ``[{"id", "conversations": [{"from": "human"|"gpt", "value": text}]}]``; the first human
turn is the prompt and the next gpt turn gives the output length (as vLLM's benchmark pairs
them). Token counts come from a local Hugging Face tokenizer when one is given, else from the
estimate ``ceil(characters / 4)`` (the common ~4 characters per English token rule). Length-only
sources carry no arrival times: every request arrives at 0 s (an offline batch).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from batchsim.inputs import quote, read_json
from batchsim.traces.canonical import LoadedTrace, finish
from batchsim.traces.errors import TraceError
from batchsim.traces.readers.csvio import iter_chunks
from batchsim.traces.rows import RowChecker, parse_int

HUMAN = {"human", "user"}
ASSISTANT = {"gpt", "chatgpt", "assistant"}
CHARS_PER_TOKEN = 4
# vLLM's ShareGPT sampling: drop sequences under 4 tokens, prompts over 1024, pairs over 2048
MIN_TOKENS, MAX_PROMPT_TOKENS, MAX_TOTAL_TOKENS = 4, 1024, 2048
NO_TIMES_NOTE = "source has no arrival times: every request arrives at 0 s (offline batch)"


def read_sharegpt(path: str | Path, *, skip_bad: bool = False, tokenizer: str | None = None,
                  filters: bool = False) -> LoadedTrace:
    """Read ShareGPT JSON: one request per conversation's first human/gpt pair."""
    path = Path(path)
    records = _load_array(path)
    count_tokens, method = _token_counter(tokenizer)
    rows, problems = [], {}
    unpaired = empty = 0
    for number, record in enumerate(records, start=1):
        pair = _first_pair(record)
        if pair is None:
            unpaired += 1
            continue
        if isinstance(pair, str):
            problems[len(rows)] = pair
            rows.append((number, str(number), 0, 0))
            continue
        prompt_tokens, output_tokens = count_tokens(pair[0]), count_tokens(pair[1])
        if prompt_tokens < 1 or output_tokens < 1:
            empty += 1
            continue
        record_id = record.get("id", number)
        if not isinstance(record_id, (str, int)) or isinstance(record_id, bool):
            problems[len(rows)] = f"id {quote(record_id, 40)} is not a string or integer"
            rows.append((number, str(number), 0, 0))
            continue
        rows.append((number, str(record_id), prompt_tokens, output_tokens))
    notes = [f"token counts from {method}", NO_TIMES_NOTE]
    if unpaired:
        notes.append(f"dropped {unpaired} conversations without a human turn followed by a reply")
    if empty:
        notes.append(f"dropped {empty} conversations with an empty prompt or reply")
    table = pd.DataFrame(rows, columns=["line", "request_id", "prompt_tokens", "output_tokens"])
    table["request_id"] = table["request_id"].astype(object)
    checker = RowChecker(path.name, table.pop("line").to_numpy(), unit="record",
                         field_word="field")
    bad = np.zeros(len(table), dtype=bool)
    bad[list(problems)] = True
    checker.flag(bad, "conversations", lambda i: problems[i])
    if filters:
        keep = _vllm_filters(table, bad, notes)
        table, checker = table.loc[keep].reset_index(drop=True), checker.subset(keep)
    table.insert(0, "arrival_s", np.zeros(len(table)))
    fields = {"arrival_s": "", "prompt_tokens": "conversations", "output_tokens": "conversations"}
    table = finish(table, checker=checker, fields=fields, skip_bad=skip_bad, notes=notes,
                   shift_to_zero=False)
    return LoadedTrace(table, f"ShareGPT JSON {path}", "sharegpt", None, notes)


def read_length_csv(path: str | Path, *, skip_bad: bool = False) -> LoadedTrace:
    """Read a pre-tokenized length CSV (``num_prefill_tokens,num_decode_tokens,...``)."""
    path = Path(path)
    notes = [NO_TIMES_NOTE]
    parts, checkers = [], []
    for chunk, lines in iter_chunks(path, ["num_prefill_tokens", "num_decode_tokens"],
                                    skip_bad=skip_bad, notes=notes):
        checker = RowChecker(path.name, lines)
        parts.append(pd.DataFrame({
            "arrival_s": np.zeros(len(chunk)),
            "prompt_tokens": parse_int(chunk["num_prefill_tokens"], "num_prefill_tokens", checker),
            "output_tokens": parse_int(chunk["num_decode_tokens"], "num_decode_tokens", checker),
        }))
        checkers.append(checker)
    fields = {"arrival_s": "", "prompt_tokens": "num_prefill_tokens",
              "output_tokens": "num_decode_tokens"}
    table = finish(pd.concat(parts, ignore_index=True),
                   checker=RowChecker.combine(path.name, checkers), fields=fields,
                   skip_bad=skip_bad, notes=notes, shift_to_zero=False)
    return LoadedTrace(table, f"length-statistics CSV {path}", "length-csv", None, notes)


def _load_array(path: Path) -> list:
    try:
        records = read_json(path, what="ShareGPT JSON file", allow_constants=True)
    except ValueError as error:
        raise TraceError(str(error)) from None
    if not isinstance(records, list):
        raise TraceError(f"{path.name}: expected a JSON array of conversations")
    return records


def _first_pair(record) -> tuple[str, str] | str | None:
    """(prompt, reply) texts; None when there is no such pair; a message when malformed."""
    if not isinstance(record, dict):
        return "not a JSON object"
    turns = record.get("conversations")
    if not isinstance(turns, list):
        return "missing value" if turns is None else "not a list of turns"
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get("value", ""), str):
            return f"turn {i} is not an object with a text 'value'"
    speakers = [str(turn.get("from", "")).lower() for turn in turns]
    for i, speaker in enumerate(speakers):
        if speaker in HUMAN:
            for j in range(i + 1, len(turns)):
                if speakers[j] in ASSISTANT:
                    return turns[i].get("value", ""), turns[j].get("value", "")
            return None
    return None


def _token_counter(tokenizer: str | None):
    """(count(text) -> tokens, description); a local tokenizer only, never a download."""
    if tokenizer is None:
        return (lambda text: math.ceil(len(text) / CHARS_PER_TOKEN),
                f"the estimate ceil(characters / {CHARS_PER_TOKEN}) (no --tokenizer given)")
    try:
        from transformers import AutoTokenizer  # optional dependency, only for --tokenizer
    except ImportError:
        raise TraceError("--tokenizer needs the 'transformers' package installed") from None
    try:
        loaded = AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
    except (OSError, ValueError) as error:
        raise TraceError(f"tokenizer {tokenizer}: cannot load locally ({error})") from None
    return (lambda text: len(loaded(text, add_special_tokens=False)["input_ids"]),
            f"the local tokenizer {tokenizer}")


def _vllm_filters(table: pd.DataFrame, bad: np.ndarray, notes: list[str]) -> np.ndarray:
    """vLLM's ShareGPT filters on well-formed rows; returns the keep mask, counts in notes."""
    prompt, output = table["prompt_tokens"].to_numpy(), table["output_tokens"].to_numpy()
    short = ~bad & ((prompt < MIN_TOKENS) | (output < MIN_TOKENS))
    long_prompt = ~bad & ~short & (prompt > MAX_PROMPT_TOKENS)
    long_pair = ~bad & ~short & ~long_prompt & (prompt + output > MAX_TOTAL_TOKENS)
    notes.append(f"vLLM filters dropped {int(short.sum())} pairs under {MIN_TOKENS} tokens, "
                 f"{int(long_prompt.sum())} prompts over {MAX_PROMPT_TOKENS} tokens and "
                 f"{int(long_pair.sum())} pairs over {MAX_TOTAL_TOKENS} tokens")
    return ~(short | long_prompt | long_pair)
