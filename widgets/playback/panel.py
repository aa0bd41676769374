"""The playback workspace's panel: up to 4x4 tiles over one playback bar (one shared clock), and
the map in time mode beside them with the alarms open at that moment. Widgets only: the
controller (app/controllers/playback_panel.py) plays and fills them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from vigie.widgets.mosaic.tile import VideoTile
from vigie.widgets.playback.controls import PlaybackBar

GRIDS = {"1x1": 1, "2x2": 2, "3x3": 3, "4x4": 4}


class PlaybackPanel(QWidget):
    def __init__(self, map_view: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles = [VideoTile(i, lost_after=3600.0) for i in range(16)]
        self.grid_box = QComboBox()
        self.grid_box.addItems(list(GRIDS))
        self.grid_box.setCurrentText("2x2")
        self.bar = PlaybackBar()
        self.bar.live.setText("Close playback")
        self.export_button = QPushButton("Export…")
        self.map_view = map_view
        self.alarms_title = QLabel("Alarms open at that moment")
        self.alarms = QListWidget()
        grid_host = QWidget()
        self._grid = QGridLayout(grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.grid_box)
        top.addStretch(1)
        top.addWidget(self.export_button)
        lv.addLayout(top)
        lv.addWidget(grid_host, 1)
        lv.addWidget(self.bar)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(map_view, 3)
        rv.addWidget(self.alarms_title)
        rv.addWidget(self.alarms, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([600, 500])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self.grid_box.currentTextChanged.connect(self.set_grid)
        self.set_grid("2x2")

    def set_grid(self, name: str) -> None:
        n = GRIDS.get(name, 2)
        for t in self.tiles:
            self._grid.removeWidget(t)
            t.hide()
        for i in range(n * n):
            self._grid.addWidget(self.tiles[i], i // n, i % n)
            self.tiles[i].show()

    def visible_tiles(self) -> list[VideoTile]:
        n = GRIDS.get(self.grid_box.currentText(), 2)
        return self.tiles[: n * n]

    def set_alarms(self, lines: list[str]) -> None:
        self.alarms.clear()
        self.alarms.addItems(lines or ["(none)"])
