"""What every worker process of a planning pool (plan, sweep) runs first."""
from __future__ import annotations

import signal


def ignore_sigint() -> None:
    """Worker processes leave Ctrl-C to the parent, which stops the plan or sweep cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
