"""Tables for the terminal, laid out by rich so no cell is ever cut short.

Output is plain text (no colour, no box-drawing characters) so that it reads the same in a
terminal, a pipe or a file, and is byte-identical for identical inputs: the width is the
terminal's when stdout is one, else a fixed 120 columns; a cell wider than its column wraps
between words onto more lines, never truncates.
"""
from __future__ import annotations

import io
import shutil
import sys

from rich.box import Box
from rich.console import Console
from rich.table import Table

PIPE_WIDTH = 120
# header underlined with dashes, columns two spaces apart, nothing else drawn
PLAIN = Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)


def output_width() -> int:
    """The terminal's width when stdout is a terminal, else PIPE_WIDTH."""
    return shutil.get_terminal_size((PIPE_WIDTH, 24)).columns if sys.stdout.isatty() \
        else PIPE_WIDTH


def render_table(headers: list[str], rows: list[list[str]], title: str | None = None,
                 align: str = "", width: int | None = None) -> str:
    """The table as text; ``align`` holds one 'l' or 'r' per column (default: first left)."""
    align = align or "l" + "r" * (len(headers) - 1)
    table = Table(title=title, box=PLAIN, show_edge=False, pad_edge=False,
                  title_justify="left", collapse_padding=True)
    for index, (header, side) in enumerate(zip(headers, align)):
        words = [w for text in [header, *(row[index] for row in rows)] for w in text.split()]
        table.add_column(header, justify="left" if side == "l" else "right", overflow="fold",
                         min_width=max(map(len, words), default=1))  # wrap between words only
    for row in rows:
        table.add_row(*row)
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or output_width(), no_color=True,
                      force_terminal=False, color_system=None, highlight=False,
                      emoji=False, markup=False, legacy_windows=False)
    console.print(table, crop=False)  # a table wider than the width overflows, never cut
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())
