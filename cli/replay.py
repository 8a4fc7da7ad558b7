"""``batchsim replay``: simulate a trace through serving replicas and print the report."""
from __future__ import annotations


def register(subparsers) -> None:
    """Add the replay subcommand (filled in by the simulator core)."""
    parser = subparsers.add_parser("replay", help="replay a trace through simulated replicas")
    parser.set_defaults(func=lambda args: 0)
