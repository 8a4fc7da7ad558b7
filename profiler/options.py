"""Command-line options of ``batchsim profile`` (no torch import, so the CLI starts fast)."""
from __future__ import annotations

import argparse

MODES = ("eager", "cuda-graph", "engine")
DTYPES = ("bf16", "fp16", "fp32")
KINDS = ("prefill", "decode", "skewed", "mixed")


def add_profile_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``batchsim profile`` and ``python -m batchsim.profiler.run``."""
    parser.add_argument("--model", help="catalog model name (llama-3-8b, llama-2-13b, ...)")
    parser.add_argument("--config", help="a local Hugging Face config.json instead of --model")
    parser.add_argument("--dtype", choices=DTYPES, default="bf16")
    parser.add_argument("--mode", choices=MODES, default="engine")
    parser.add_argument("--out", help="output directory (profile.yaml + steps.csv)")
    parser.add_argument("--name", help="profile name (default: the output directory's name)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--quick", action="store_true", help="a small grid (smoke test)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per grid point")
    parser.add_argument("--warmup", type=int, default=2, help="untimed repeats per grid point")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help="stop starting grid points after S seconds and write what was measured")
    parser.add_argument("--tp", type=int, default=1, metavar="T",
                        help="profile one Megatron tensor-parallel shard of degree T on this GPU")
    parser.add_argument("--layers", type=int_list, default=None, metavar="N[,M...]",
                        help="time only these depths and scale each step to the full depth along the line "
                             "through them (one depth N: the line through 0 and N layers); cuda-graph mode")
    parser.add_argument("--full-depth-check", type=int, default=0, metavar="K",
                        help="with --layers: also time K grid points at full depth to check the scaling")
    parser.add_argument("--decode-batches", type=int_list, default=None, metavar="B,...",
                        help="decode batch sizes of the grid (default: 1 to 256 in powers of two)")
    parser.add_argument("--decode-contexts", type=int_list, default=None, metavar="C,...",
                        help="decode contexts of the grid (default: 128 to 4096); with either option "
                             "every batch meets every context within the KV bound")
    parser.add_argument("--max-kv-tokens", type=int, default=None, metavar="K",
                        help="cap on the KV tokens one grid point holds")
    parser.add_argument("--kinds", type=kind_list, default=None, metavar="KIND,...",
                        help=f"time only these step kinds of the grid ({', '.join(KINDS)})")
    parser.add_argument("--resume-from", type=int, default=0, metavar="K",
                        help="skip the first K grid points (finish a profile that its time limit cut)")
    parser.add_argument("--engine-kv", choices=("advance", "fixed"), default="advance",
                        help="engine decode repeats: contexts grow a token a step (as served) or stay fixed")
    parser.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a ContinuousBatchingConfig field for engine mode (integers or true/false)")


def int_list(text: str) -> tuple[int, ...]:
    """``'10,20'`` -> ``(10, 20)``; non-negative integers only."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of integers") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"'{text}' holds a negative number")
    return values


def kind_list(text: str) -> tuple[str, ...]:
    """``'decode,mixed'`` -> ``('decode', 'mixed')``; each a grid step kind."""
    kinds = tuple(part.strip() for part in text.split(","))
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown step kind(s) {', '.join(unknown)} (known: {', '.join(KINDS)})")
    return kinds


def parse_engine_options(pairs: list[str]) -> dict:
    """``['num_blocks=64', 'use_cuda_graph=false']`` -> ``{'num_blocks': 64, 'use_cuda_graph': False}``."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"engine option '{pair}' is not KEY=VALUE")
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            options[key] = lowered == "true"
        else:
            try:
                options[key] = int(value)
            except ValueError:
                try:
                    options[key] = float(value)
                except ValueError:
                    options[key] = value
    return options
