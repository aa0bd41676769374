"""A fixed grid of video tiles (the first camera view; the full mosaic comes later)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from widgets.video.tile import VideoTile


class CameraGrid(QWidget):
    sig_tile_activated = Signal(int)  # index of a double-clicked tile

    def __init__(self, rows: int = 2, cols: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles: list[VideoTile] = []
        lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        for i in range(rows * cols):
            tile = VideoTile()
            tile.sig_double_clicked.connect(lambda i=i: self.sig_tile_activated.emit(i))
            lay.addWidget(tile, i // cols, i % cols)
            self.tiles.append(tile)
