"""Progress bars on stderr for commands that can run for more than a couple of seconds.

A bar is drawn only when stderr is a terminal and ``--quiet`` is not given, so piped and
redirected output (and everything on stdout) stays plain and byte-identical between runs.
tqdm estimates the time left from the rate so far; it is imported only when a bar is drawn
(its import costs about a twentieth of a short replay's start-up).
"""
from __future__ import annotations

import sys


def add_quiet_flag(parser) -> None:
    """``--quiet``: no progress bar."""
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (none is drawn when stderr is not a terminal)")


def shows_progress(args) -> bool:
    """True when a bar should be drawn for this command."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


class HiddenBar:
    """What a command uses of a tqdm bar (``n``, ``update``, ``clear``), drawing nothing."""

    def __init__(self, initial: int = 0) -> None:
        self.n = initial

    def update(self, count: int = 1) -> None:
        self.n += count

    def clear(self) -> None:
        pass

    def __enter__(self) -> HiddenBar:
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress_bar(args, total: int | None, desc: str, unit: str, initial: int = 0):
    """A tqdm bar on stderr when shown, else a HiddenBar; use as a context manager."""
    if not shows_progress(args):
        return HiddenBar(initial)
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)
