"""Command-line flags of the recorder, shared by ``batchsim record`` and ``python3 -m batchsim.profiler.recorder``.

Pure argparse (no torch), so the CLI can build its parser without importing the GPU stack.
"""
from __future__ import annotations

import argparse

EXAMPLE = """example:
  batchsim record --trace records/cases/cb_conv_light.csv --engine hf_cb \\
      --max-batch-tokens 512 --num-blocks 2048 --case cb_conv_light --out records/cb_conv_light.json
  python3 -m batchsim.profiler.recorder --plan records/cases/plan.json --out-dir out/records
"""


def _tri_state(text: str) -> bool | None:
    choices = {"auto": None, "on": True, "off": False}
    if text not in choices:
        raise argparse.ArgumentTypeError(f"expected auto, on or off, got '{text}'")
    return choices[text]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def add_record_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the recorder's flags to ``parser``."""
    parser.add_argument("--trace", help="canonical trace CSV (arrival_s,prompt_tokens,output_tokens)")
    parser.add_argument("--engine", choices=("hf_cb", "hf_static"), help="engine to replay against")
    parser.add_argument("--case", help="case name stored in the record (default: trace file stem)")
    parser.add_argument("--out", help="record JSON to write")
    parser.add_argument("--batch-size", type=_positive_int, default=8, help="hf_static: batch size B")
    parser.add_argument("--max-batch-tokens", type=_positive_int, help="hf_cb: token budget per step")
    parser.add_argument("--num-blocks", type=_positive_int, help="hf_cb: KV cache blocks")
    parser.add_argument("--block-size", type=_positive_int, help="hf_cb: tokens per KV block")
    parser.add_argument("--max-requests-per-batch", type=_positive_int, help="hf_cb: requests per step")
    parser.add_argument("--cuda-graph", type=_tri_state, default=None, metavar="auto|on|off",
                        help="hf_cb: CUDA graphs (auto = the engine decides)")
    parser.add_argument("--async-batching", type=_tri_state, default=None, metavar="auto|on|off",
                        help="hf_cb: asynchronous batching (auto = the engine decides)")
    parser.add_argument("--model", default="llama-3-8b", help="model shape from the catalog")
    parser.add_argument("--seed", type=int, default=0, help="seed for prompt token ids")
    parser.add_argument("--limit-s", type=float, default=600.0,
                        help="give up when the run outlasts its last arrival by this many seconds")
    parser.add_argument("--plan", help="JSON plan of several cases run back to back (model built once)")
    parser.add_argument("--out-dir", help="with --plan: folder for the records")
    parser.add_argument("--only", help="with --plan: comma-separated case names to run")
    parser.add_argument("--stop-after-s", type=float, default=None,
                        help="with --plan: start no new case after this many seconds")


def check_record_arguments(args: argparse.Namespace) -> None:
    """Raise ValueError when the flags do not describe a run."""
    if args.plan:
        if not args.out_dir:
            raise ValueError("--plan needs --out-dir")
        return
    for flag in ("trace", "engine", "out"):
        if not getattr(args, flag):
            raise ValueError(f"--{flag} is required (or use --plan)")
