"""The one error type trace code raises: a one-line message naming file, line and field."""
from __future__ import annotations


class TraceError(ValueError):
    """A trace file (or trace option) is malformed; the message names where."""
