"""The setup keys of ``vllm bench serve --save-result`` for a replayed trace, and the per-request
lists of its ``--save-detailed``.

vLLM writes them from its command line; batchsim derives each from the trace with the same
meaning: ``request_rate`` is the offered arrival rate (requests over the arrival span, "inf"
when all arrive at once, as vLLM writes an infinite rate), ``burstiness`` is the shape of the
gamma distribution whose inter-arrival coefficient of variation the trace has (1 / CV^2; 1 is
Poisson, "inf" for evenly spaced arrivals; vLLM's default 1.0 when there are fewer than two
gaps), ``max_concurrency`` is None (batchsim's clients never cap requests in flight).
``date`` is vLLM's ``%Y%m%d-%H%M%S`` stamp, taken from the caller, never from the clock, so the
same inputs give byte-identical results.
"""
from __future__ import annotations

import os
import time
from datetime import datetime

import numpy as np


DATE_FORMAT = "%Y%m%d-%H%M%S"
BACKEND = "batchsim"


def check_date(text: str) -> str:
    """``text`` if it is a vLLM date stamp such as 20261202-103000; ValueError otherwise."""
    try:
        datetime.strptime(text, DATE_FORMAT)
    except ValueError:
        raise ValueError(f"bad date '{text}' (expected YYYYMMDD-HHMMSS, e.g. 20261202-103000)") \
            from None
    return text


def default_date() -> str:
    """SOURCE_DATE_EPOCH (the reproducible-builds convention) in UTC, else the Unix epoch."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "0")
    try:
        seconds = int(raw)
    except ValueError:
        raise ValueError(f"SOURCE_DATE_EPOCH '{raw}' is not whole seconds") from None
    return time.strftime(DATE_FORMAT, time.gmtime(seconds))


def arrival_shape(arrival_s: np.ndarray) -> tuple[float | str, float | str]:
    """(request_rate, burstiness) of sorted arrival times, with vLLM's meanings."""
    span_s = float(arrival_s[-1] - arrival_s[0]) if arrival_s.size else 0.0
    if span_s <= 0:
        return "inf", 1.0
    gaps = np.diff(arrival_s)
    if gaps.size < 2:
        return arrival_s.size / span_s, 1.0
    cv = float(gaps.std() / gaps.mean())
    return arrival_s.size / span_s, (1.0 / cv**2 if cv > 0 else "inf")


def result_header(table, model: str, date: str) -> dict:
    """vLLM's setup keys for replaying ``table`` (canonical trace) with ``model``."""
    arrival_s = np.asarray(table["arrival_s"], dtype=np.float64)
    rate, burstiness = arrival_shape(np.sort(arrival_s))
    return {
        "date": date, "endpoint_type": BACKEND, "backend": BACKEND, "label": None,
        "model_id": model, "tokenizer_id": model, "num_prompts": int(arrival_s.size),
        "request_rate": rate, "burstiness": burstiness, "max_concurrency": None,
    }


def detailed_lists(table: dict) -> dict:
    """--save-detailed's per-request lists, in request order, with vLLM's values for failures.

    ``table`` is the request table (``summary.request_table``). ``ttfts`` are seconds as vLLM
    stores them (0.0 for a failed request); ``output_lens`` are 0 and ``errors`` hold the
    rejection reason for failed requests, "" for finished ones. vLLM's ``itls`` (per-request
    gaps) and ``generated_texts`` are not written: batchsim keeps gaps only in aggregate and
    generates no text.
    """
    finished = table["finished"]
    return {
        "input_lens": table["prompt_tokens"].tolist(),
        "output_lens": np.where(finished, table["output_tokens"], 0).tolist(),
        "ttfts": np.where(finished, table["first_token_s"] - table["arrival_s"], 0.0).tolist(),
        "errors": ["" if ok else (reason or "rejected")
                   for ok, reason in zip(finished.tolist(), table["reason"].tolist())],
    }
