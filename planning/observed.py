"""A real run as validation and calibration see it: per-request times and the engine to mirror.

Every input format (our records, vLLM run folders, ``vllm bench serve`` results) becomes an
``ObservedRun``: each request's arrival, first-token and last-token time (seconds on one clock),
its prompt and output length, the gaps between its tokens where the run kept them, and whether
its first-token time can be trusted (an engine that restarts a request's timestamps after
preemption loses it). The run also names the model and GPU it ran on, the serving knobs that
mirror the engine's resolved settings, the profile modes that price steps the way that engine
runs them, and notes for the report (assumptions made, requests set aside).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from batchsim.simulator.config import ServingConfig
from batchsim.simulator.hardware import GpuSpec
from batchsim.simulator.models import ModelSpec


@dataclass(frozen=True)
class ObservedRequests:
    """Per-request columns of a real run (seconds, tokens), in arrival order."""

    request_id: np.ndarray
    arrival_s: np.ndarray
    first_token_s: np.ndarray
    last_token_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    first_token_known: np.ndarray  # False: timestamps restarted (preempted), TTFT/TPOT unknown
    itl_gaps_s: np.ndarray | None = None  # every inter-token gap; None when the run has none

    def __post_init__(self) -> None:
        sizes = {len(getattr(self, name)) for name in (
            "request_id", "arrival_s", "first_token_s", "last_token_s", "prompt_tokens",
            "output_tokens", "first_token_known")}
        if len(sizes) != 1:
            raise ValueError("observed request columns differ in length")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def restarted(self) -> int:
        """Requests whose first-token time is unknown."""
        return int(np.count_nonzero(~self.first_token_known))


def requests_from_columns(request_id, arrival_s, first_token_s, last_token_s, prompt_tokens,
                          output_tokens, first_token_known=None, itl_gaps_s=None) -> ObservedRequests:
    """Columns sorted by (arrival, id); the first-token flag defaults to known."""
    arrival_s = np.asarray(arrival_s, dtype=float)
    request_id = np.asarray(request_id, dtype=np.int64)
    order = np.lexsort((request_id, arrival_s))
    known = (np.ones(len(arrival_s), dtype=bool) if first_token_known is None
             else np.asarray(first_token_known, dtype=bool))
    return ObservedRequests(
        request_id[order], arrival_s[order], np.asarray(first_token_s, dtype=float)[order],
        np.asarray(last_token_s, dtype=float)[order], np.asarray(prompt_tokens, dtype=np.int64)[order],
        np.asarray(output_tokens, dtype=np.int64)[order], known[order],
        None if itl_gaps_s is None else np.asarray(itl_gaps_s, dtype=float))


@dataclass(frozen=True)
class ObservedRun:
    """One real run, ready to re-simulate (see module docstring)."""

    case: str
    engine: str  # hf_cb, hf_static or vllm
    source: str
    requests: ObservedRequests
    model: ModelSpec
    gpu: GpuSpec
    serving: ServingConfig
    profile_modes: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    prefix_block_ids: tuple | None = None  # per request (arrival order): ids of its prompt's blocks
    prefix_block_tokens: int | None = None  # tokens per prefix block id
    engine_settings: dict = field(default_factory=dict)  # as simulator.engine_match.record_settings reads them

    def trace_table(self) -> pd.DataFrame:
        """The requests as a canonical trace: the run's own arrivals and lengths."""
        reqs = self.requests
        table = pd.DataFrame({
            "arrival_s": reqs.arrival_s - reqs.arrival_s.min(),
            "prompt_tokens": reqs.prompt_tokens,
            "output_tokens": np.maximum(1, reqs.output_tokens),
            "request_id": reqs.request_id,
        })
        if self.prefix_block_ids is not None:
            table["prefix_block_ids"] = list(self.prefix_block_ids)
            table.attrs["prefix_block_tokens"] = int(self.prefix_block_tokens)
        return table
