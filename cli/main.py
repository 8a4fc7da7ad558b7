"""The ``batchsim`` command: one subcommand per module, each a thin layer over library calls.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``. Heavy libraries (matplotlib, torch) are imported inside the command that
needs them so that ``batchsim replay`` starts fast.

Errors: every failure ends as one line ``batchsim: error: <file> line N: <key>: <what>`` on
stderr and exit code 2, whatever raised it (an unexpected exception still gets one line naming
the command's inputs); Ctrl-C exits 130 with no traceback, and outputs are written atomically
(batchsim.atomic), so an interrupted run leaves no half-written file.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import stat
import sys
import threading

from batchsim.cli.argtypes import finite_float
from batchsim.cli.commands import COMMANDS, HELP
from batchsim.inputs import one_line
from batchsim.limits import LIMIT_NAMES, parse_limit_raises

INPUT_ARGS = ("config", "grid", "trace", "records", "inputs", "path", "lengths_from", "rate_csv",
              "gpu", "model", "tokenizer", "profile", "runs", "held_out")


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


class ArgumentError(Exception):
    """A command line argparse refused: printed as one line, exit code 2."""


class Terminated(BaseException):
    """SIGTERM (kill): raised like Ctrl-C so that temporary outputs are cleaned up."""


def _on_sigterm(signum, frame):
    raise Terminated


class BatchsimParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and never exit itself."""

    def error(self, message: str):
        raise ArgumentError(f"{self.prog}: {message}")


def _leaf_parsers(parser: argparse.ArgumentParser):
    """Every parser that runs a command (subcommands of subcommands included)."""
    found = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found = True
                yield from _leaf_parsers(sub)
    if not found:
        yield parser


def _harden(parser: argparse.ArgumentParser) -> None:
    """Float flags refuse nan/inf; every command takes --limit-raise."""
    for action in parser._actions:
        if action.type is float:
            action.type = finite_float
    parser.add_argument("--limit-raise", action="append", metavar="NAME=N",
                        help=f"raise a stated size limit ({', '.join(LIMIT_NAMES)}); "
                             "see README 'Errors and limits'")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered; given the command line ``argv``,
    only the command it names is built in full (its module imported), the others are listed
    for --help and never parsed into."""
    parser = BatchsimParser(
        prog="batchsim",
        description="Simulate LLM-serving batching policies and plan GPU capacity.",
    )
    chosen = _command_named(argv) if argv is not None else None
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name, text in COMMANDS:
        if argv is None or name == chosen:
            # the command modules import numpy (and their commands pandas): imported here,
            # inside main's Ctrl-C handling, and only the one that runs
            importlib.import_module(f"batchsim.cli.{module_name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=text)
    for leaf in _leaf_parsers(parser):
        if leaf is not parser:
            _harden(leaf)
    return parser


def _command_named(argv: list[str]) -> str | None:
    """The subcommand a command line runs: its first word that is not an option, if a command."""
    first = next((token for token in argv if not token.startswith("-")), None)
    return first if first in HELP else None


def _chosen_parser(parser, argv: list[str]):
    """The leaf parser the command line picked (for the repeated-flag check)."""
    current = parser
    for token in argv:
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if subs and token in subs[0].choices:
            current = subs[0].choices[token]
    return current


def check_repeated_flags(parser, argv: list[str]) -> set[str]:
    """Refuse two flags that set the same setting (``--gpus-per-replica 2 --tp 4``); return
    the settings (argparse dests) the command line gave."""
    leaf = _chosen_parser(parser, argv)
    dests = {}
    for action in leaf._actions:
        if isinstance(action, (argparse._AppendAction, argparse._HelpAction)):
            continue
        for option in action.option_strings:
            dests[option] = action.dest
    seen: dict[str, str] = {}
    for token in argv:
        if token == "--":
            break
        option = token.split("=", 1)[0]
        dest = dests.get(option)
        if dest is None:
            continue
        if dest in seen:
            same = "given twice" if seen[dest] == option else f"and {seen[dest]} set the same value"
            raise ArgumentError(f"{leaf.prog}: {option} {same}; give one")
        seen[dest] = option
    for action in leaf._actions:  # positionals and append flags count as given when set
        if isinstance(action, argparse._AppendAction) and any(
                t.split("=", 1)[0] in action.option_strings for t in argv):
            seen[action.dest] = action.option_strings[0]
    return set(seen)


def describe_inputs(args) -> str:
    """The input files a command was given, for a last-resort error line."""
    names = []
    for name in INPUT_ARGS:
        value = getattr(args, name, None)
        if isinstance(value, str) and value:
            names.append(value)
        elif isinstance(value, list):
            names.extend(str(v) for v in value[:3])
    return ", ".join(names) or "the command line"


def check_input_kinds(args) -> None:
    """Refuse a device, pipe or socket given as an input file before anything reads it (a
    symlink to /dev/zero would otherwise be read forever)."""
    for name in INPUT_ARGS:
        value = getattr(args, name, None)
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str) or not item:
                continue
            try:
                mode = os.stat(item).st_mode
            except OSError:
                continue  # missing files are reported by the reader, with their context
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise CliError(f"{item}: not a regular file (a device, pipe or socket)")


def check_workers(args) -> None:
    """Worker processes between 1 and 8 per core: each imports the simulator and holds a trace."""
    workers = getattr(args, "workers", None)
    if not isinstance(workers, int) or isinstance(workers, bool):
        return
    most = 8 * (os.cpu_count() or 1)
    if not 1 <= workers <= most:
        raise CliError(f"--workers: {workers} is not in 1..{most} (8 per core)")


def error_text(error: BaseException) -> str:
    """The one-line message of an expected error."""
    if isinstance(error, OSError) and not str(error).startswith("/") and error.filename:
        reason = error.strerror or type(error).__name__
        return f"{error.filename}: {reason}"
    if isinstance(error, KeyError):
        return f"missing key {error}"
    text = str(error).strip()
    return text or type(error).__name__


def fail(message: str) -> int:
    """Print one error line; the exit code for bad input."""
    print(f"batchsim: error: {one_line(message)}", file=sys.stderr)
    return 2


def stopped(stop: BaseException) -> int:
    """Ctrl-C (exit 130) or SIGTERM (143): one line; outputs are staged, so none is partial."""
    interrupted = isinstance(stop, KeyboardInterrupt)
    print(f"batchsim: {'interrupted' if interrupted else 'terminated'} (no partial output "
          "written)", file=sys.stderr)
    return 130 if interrupted else 143


def run_command(args) -> int:
    """The command with every outcome mapped to an exit code and at most one error line."""
    try:
        args.limits = parse_limit_raises(getattr(args, "limit_raise", None))
        check_input_kinds(args)
        check_workers(args)
        return int(args.func(args) or 0)
    except (KeyboardInterrupt, Terminated) as stop:
        return stopped(stop)
    except RecursionError:
        return fail(f"{describe_inputs(args)}: input nested too deeply")
    except MemoryError:
        return fail(f"{describe_inputs(args)}: out of memory (see README 'Errors and limits')")
    except (CliError, ValueError, OSError, LookupError, OverflowError) as error:
        return fail(error_text(error))
    except Exception as error:  # noqa: BLE001 - last resort: one line, never a traceback
        return fail(f"{describe_inputs(args)}: unexpected {type(error).__name__}: "
                    f"{str(error)[:120]} (a batchsim bug; please report it)")


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, turn every error into one line and exit code 2. SIGTERM is
    turned into an exception like Ctrl-C so that temporary outputs are removed."""
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        args.explicit = check_repeated_flags(parser, argv)
    except ArgumentError as error:
        return fail(str(error))
    except (KeyboardInterrupt, Terminated) as stop:
        return stopped(stop)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
