"""``batchsim record``: replay a trace against a real engine on the GPU and write one run record."""
from __future__ import annotations

import argparse
import sys

from batchsim.cli.commands import HELP
from batchsim.profiler.record_args import EXAMPLE, add_record_arguments


def register(subparsers) -> None:
    """Add the record subcommand."""
    parser = subparsers.add_parser(
        "record", help=HELP["record"],
        description="Replay a trace at its arrival times against transformers' continuous-batching "
                    "engine (hf_cb) or static batching (hf_static) and write one JSON record.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_record_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Record the run(s); torch and transformers load only here."""
    from batchsim.profiler.record_args import check_record_arguments

    check_record_arguments(args)
    try:
        from batchsim.profiler import recorder
    except ImportError as error:
        raise ValueError(f"batchsim record needs torch and transformers ({error})") from None
    failures = recorder.run_from_args(args, lambda line: print(line, file=sys.stderr, flush=True))
    return 1 if failures else 0
