"""Command-line options of ``batchsim profile`` (no torch import, so the CLI starts fast)."""
from __future__ import annotations

import argparse

MODES = ("eager", "cuda-graph", "engine")
DTYPES = ("bf16", "fp16", "fp32")


def add_profile_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``batchsim profile`` and ``python -m profiler.run``."""
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
    parser.add_argument("--layers", type=int, default=None, help="override the layer count (tiny test models)")
    parser.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a ContinuousBatchingConfig field for engine mode (integers or true/false)")


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
