"""Plain-text tables laid out as kubectl lays them out (Go tabwriter: minwidth 6, padding 3).

Each column is as wide as its widest cell plus three spaces (at least six); the last column is
not padded, so lines carry no trailing spaces.
"""

from __future__ import annotations

from collections.abc import Sequence

MIN_WIDTH = 6
PADDING = 3


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The table as text, one line per row after the header, ending with a newline."""
    lines = [list(header), *(list(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "".join(_line(line, widths) + "\n" for line in lines)


def _line(cells: list[str], widths: list[int]) -> str:
    padded = [
        cell.ljust(max(w + PADDING, MIN_WIDTH)) for cell, w in zip(cells[:-1], widths[:-1], strict=True)
    ]
    return "".join(padded) + cells[-1]
