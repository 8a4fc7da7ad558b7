"""The trace flags shared by ``batchsim trace`` and ``batchsim replay``, and applying them.

Transforms run in this order: window, sample, limit, rate scale, clip. The path comes from
``args.trace``; when it is None the default synthetic trace is used.
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from batchsim.limits import DEFAULT_LIMITS
from batchsim.traces import transforms
from batchsim.traces.columns import as_frame, check_size, is_columns
from batchsim.traces.default import SOURCE, default_columns
from batchsim.traces.detect import FORMATS
from batchsim.traces.errors import TraceError
from batchsim.traces.loaded import LoadedTrace


def add_trace_options(parser: argparse.ArgumentParser, model_flag: str = "--model") -> None:
    """Add --format, --skip-bad, the BurstGPT model filter, --spread-ties, --tokenizer and the
    transforms. Commands whose --model names the served model pass another ``model_flag``."""
    group = parser.add_argument_group("trace input")
    group.add_argument("--format", default="auto", choices=["auto", *FORMATS],
                       help="trace format (default: detect from header or first record)")
    group.add_argument("--skip-bad", action="store_true",
                       help="skip malformed rows (counted in the report) instead of failing")
    group.add_argument(model_flag, dest="trace_model", help="BurstGPT: keep only this Model's rows")
    group.add_argument("--spread-ties", action="store_true",
                       help="spread requests sharing a timestamp evenly to the next one")
    group.add_argument("--tokenizer", metavar="PATH",
                       help="ShareGPT: count tokens with this local Hugging Face tokenizer")
    group.add_argument("--sharegpt-filters", action="store_true",
                       help="ShareGPT: drop pairs as vLLM's benchmark does (<4, >1024, >2048)")
    group.add_argument("--window", metavar="START:END",
                       help="keep a window: seconds with an s suffix (600s:1200s) or row "
                            "indices (0:5000); arrivals rebased to 0")
    group.add_argument("--sample", type=int, metavar="N", help="keep N random requests")
    group.add_argument("--seed", type=int, help="seed for --sample and synthetic traces (default 0)")
    group.add_argument("--limit", type=int, metavar="N", help="keep the first N requests")
    group.add_argument("--rate-scale", type=float, metavar="X",
                       help="multiply the request rate by X (arrival times divided by X)")
    group.add_argument("--clip-to-max-len", type=int, metavar="TOKENS",
                       help="fit each request into max_model_len TOKENS (counted)")


def load_from_args(args: argparse.Namespace, frame: bool = True) -> LoadedTrace:
    """Load ``args.trace`` (or the default trace) and apply the shared transforms.

    The table is a DataFrame; with ``frame=False`` the default trace stays numpy columns
    (``traces.columns``) unless a transform needs pandas, so that a replay skips importing it.
    """
    path = getattr(args, "trace", None)
    if path is None:
        columns = default_columns(args.seed or 0)
        trace = LoadedTrace(columns if not frame else as_frame(columns), SOURCE, "synthetic",
                            None, [])
    else:
        from batchsim.traces.load import load_trace  # the readers import pandas: files only

        trace = load_trace(path, args.format, skip_bad=args.skip_bad, model=args.trace_model,
                           spread_ties=args.spread_ties, tokenizer=args.tokenizer,
                           sharegpt_filters=args.sharegpt_filters,
                           limits=getattr(args, "limits", DEFAULT_LIMITS))
    steps = []
    if args.window:
        steps.append(_window_step(args.window))
    if args.sample is not None:
        steps.append(lambda t: transforms.sample(t, args.sample, np.random.default_rng(args.seed or 0)))
    if args.limit is not None:
        steps.append(lambda t: transforms.limit(t, args.limit))
    if args.rate_scale is not None:
        steps.append(lambda t: transforms.scale_rate(t, args.rate_scale))
    if args.clip_to_max_len is not None:
        steps.append(lambda t: transforms.clip_to_max_len(t, args.clip_to_max_len,
                                                          trace.prefix_block_tokens))
    if is_columns(trace.table) and (args.window or args.sample is not None
                                    or args.clip_to_max_len is not None):
        trace = replace(trace, table=as_frame(trace.table))
    for step in steps:
        table, note = step(trace.table)
        trace = replace(trace, table=table, notes=[*trace.notes, note])
    if steps:  # a rate scale can stretch the arrivals past the stated span
        check_size(trace.table, f"{path or 'trace'} after --rate-scale/--window",
                   getattr(args, "limits", DEFAULT_LIMITS))
    return trace


def _window_step(text: str):
    start, sep, end = text.partition(":")
    try:
        if start.endswith("s") and end.endswith("s"):
            low, high = float(start[:-1]), float(end[:-1])
            return lambda t: transforms.window_time(t, low, high)
        low_i, high_i = int(start), int(end)
    except ValueError:
        raise TraceError(f"--window {text!r}: expected START:END in seconds (600s:1200s) or "
                         "row indices (0:5000)") from None
    if not sep:
        raise TraceError(f"--window {text!r}: expected START:END")
    return lambda t: transforms.window_index(t, low_i, high_i)
