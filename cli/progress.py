"""Progress bars on stderr for commands that can run for more than a couple of seconds.

A bar is drawn only when stderr is a terminal and ``--quiet`` is not given, so piped and
redirected output (and everything on stdout) stays plain and byte-identical between runs.
tqdm estimates the time left from the rate so far.
"""
from __future__ import annotations

import sys

from tqdm import tqdm


def add_quiet_flag(parser) -> None:
    """``--quiet``: no progress bar."""
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (none is drawn when stderr is not a terminal)")


def shows_progress(args) -> bool:
    """True when a bar should be drawn for this command."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def progress_bar(args, total: int | None, desc: str, unit: str, initial: int = 0) -> tqdm:
    """A tqdm bar on stderr (disabled when not shown); use as a context manager."""
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr,
                disable=not shows_progress(args), dynamic_ncols=True, smoothing=0.1)
