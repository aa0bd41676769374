"""Mosaic layouts: where each tile sits on a grid of rows x columns.

A layout is a list of cells (row, column, row span, column span); tile i of the mosaic always goes
in cell i, so switching layouts keeps each camera in its slot (the big tile is slot 0).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    name: str
    rows: int
    cols: int
    cells: tuple[tuple[int, int, int, int], ...]

    @property
    def size(self) -> int:
        return len(self.cells)


def _grid(rows: int, cols: int, name: str | None = None) -> Layout:
    cells = tuple((r, c, 1, 1) for r in range(rows) for c in range(cols))
    return Layout(name or f"{rows}x{cols}", rows, cols, cells)


def _one_plus(n: int, side: int, big: int, name: str) -> Layout:
    """One big tile (big x big) in the top-left corner of a side x side grid, small tiles around."""
    cells = [(0, 0, big, big)]
    for r in range(side):
        for c in range(side):
            if r < big and c < big:
                continue
            cells.append((r, c, 1, 1))
    assert len(cells) == n + 1, name
    return Layout(name, side, side, tuple(cells))


def _one_plus_twelve() -> Layout:
    """The classic 1+12: a 2x2 tile in the middle of a 4x4 grid, twelve tiles around it."""
    cells = [(1, 1, 2, 2)]
    for r in range(4):
        for c in range(4):
            if 1 <= r <= 2 and 1 <= c <= 2:
                continue
            cells.append((r, c, 1, 1))
    return Layout("1+12", 4, 4, tuple(cells))


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        _grid(1, 1),
        _grid(2, 2),
        _grid(3, 3),
        _grid(4, 4),
        _grid(5, 5),
        _one_plus(5, 3, 2, "1+5"),
        _one_plus(7, 4, 3, "1+7"),
        _one_plus_twelve(),
        _grid(4, 2, "2x4 portrait"),
    )
}
MAX_TILES = max(layout.size for layout in LAYOUTS.values())
