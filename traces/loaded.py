"""A loaded trace: its canonical table (see ``canonical``), where it came from, what changed."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoadedTrace:
    """A canonical table plus where it came from and every count of what was changed."""

    table: object  # pandas DataFrame, or numpy columns (``columns``)
    source: str
    fmt: str
    prefix_block_tokens: int | None = None
    notes: list[str] = field(default_factory=list)
