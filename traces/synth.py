"""Synthetic traces: an arrival process joined with a length model into a canonical table.

Also parses the command-line spelling of mixture components, ``WEIGHT:PROMPT:OUTPUT`` where
PROMPT and OUTPUT are a token count ``N`` or an inclusive range ``LO-HI`` (uniform).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from batchsim.traces.errors import TraceError
from batchsim.traces.lengths import FixedLengths, UniformLengths


def synthesize(arrival_s: np.ndarray, lengths, rng: np.random.Generator) -> pd.DataFrame:
    """A canonical table with the given arrivals and lengths drawn from ``lengths``."""
    arrival_s = np.sort(np.asarray(arrival_s, dtype=np.float64))
    prompt, output = lengths.sample(len(arrival_s), rng)
    return pd.DataFrame({"arrival_s": arrival_s, "prompt_tokens": prompt,
                         "output_tokens": output,
                         "request_id": np.arange(len(arrival_s), dtype=np.int64)})


def parse_component(text: str) -> tuple[float, FixedLengths | UniformLengths]:
    """``'0.8:128-512:64-256'`` -> (0.8, UniformLengths(128, 512, 64, 256))."""
    parts = text.split(":")
    if len(parts) != 3:
        raise TraceError(f"mixture component {text!r}: expected WEIGHT:PROMPT:OUTPUT, "
                         "e.g. 0.8:128-512:64-256")
    try:
        weight = float(parts[0])
        prompt = _token_range(parts[1])
        output = _token_range(parts[2])
    except ValueError:
        raise TraceError(f"mixture component {text!r}: weight must be a number and lengths "
                         "N or LO-HI token counts") from None
    if prompt[0] == prompt[1] and output[0] == output[1]:
        return weight, FixedLengths(prompt[0], output[0])
    return weight, UniformLengths(prompt[0], prompt[1], output[0], output[1])


def _token_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)
