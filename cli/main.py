"""The ``batchsim`` command: one subcommand per module, each a thin layer over library calls.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``. Heavy libraries (matplotlib, torch) are imported inside the command that
needs them so that ``batchsim replay`` starts fast.
"""
from __future__ import annotations

import argparse
import sys

from batchsim.cli import (calibrate_cmd, plan_cmd, plot_cmd, profile_cmd, record_cmd, replay, sweep_cmd,
                          trace_cmd, validate_cmd)

COMMAND_MODULES = [replay, trace_cmd, sweep_cmd, plot_cmd, plan_cmd, profile_cmd, validate_cmd,
                   calibrate_cmd, record_cmd]


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="batchsim",
        description="Simulate LLM-serving batching policies and plan GPU capacity.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, turn expected errors into one line and exit code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (CliError, ValueError, OSError, KeyError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"batchsim: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("batchsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
