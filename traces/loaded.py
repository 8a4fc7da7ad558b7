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

    def __post_init__(self) -> None:
        # the table travels alone from here on (to replay, plan...): it carries its id size
        if self.prefix_block_tokens and hasattr(self.table, "attrs"):
            self.table.attrs["prefix_block_tokens"] = int(self.prefix_block_tokens)
