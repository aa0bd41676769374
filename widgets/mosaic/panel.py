"""The mosaic with its toolbar: layout, named views, tour, snapshot. Emits what the operator asks."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from widgets.mosaic.layouts import LAYOUTS
from widgets.mosaic.mosaic import Mosaic


class MosaicPanel(QWidget):
    sig_save_view = Signal(str)
    sig_load_view = Signal(str)
    sig_tour = Signal(bool)  # start (True) / stop a tour of the cameras through the whole mosaic
    sig_snapshot = Signal()  # of the selected tile

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mosaic = Mosaic()
        self.layouts = QComboBox()
        self.layouts.addItems(list(LAYOUTS))
        self.layouts.setCurrentText(self.mosaic.layout_name)
        self.layouts.setToolTip("Mosaic layout")
        self.layouts.currentTextChanged.connect(self.mosaic.set_layout)
        self.views = QComboBox()
        self.views.setToolTip("Open a saved view")
        self.views.setMinimumContentsLength(10)
        self.views.activated.connect(self._on_view)
        self.view_name = QLineEdit(placeholderText="Save view as…")
        self.view_name.setMaximumWidth(170)
        self.view_name.returnPressed.connect(self._on_save)
        self.tour = QPushButton("Tour")
        self.tour.setCheckable(True)
        self.tour.setToolTip("Cycle the cameras through the mosaic")
        self.tour.toggled.connect(self.sig_tour)
        self.snapshot = QPushButton("Snapshot")
        self.snapshot.setToolTip("Save the selected tile's picture with the camera name and time")
        self.snapshot.clicked.connect(self.sig_snapshot)
        self.toolbar = QWidget()
        bar = QHBoxLayout(self.toolbar)
        bar.setContentsMargins(0, 0, 0, 4)
        bar.addWidget(self.layouts)
        bar.addWidget(self.views, 1)
        bar.addWidget(self.view_name)
        bar.addWidget(self.tour)
        bar.addWidget(self.snapshot)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.toolbar)
        lay.addWidget(self.mosaic, 1)
        self.mosaic.sig_changed.connect(self._sync_layout_box)

    def set_controls_visible(self, visible: bool) -> None:
        """Without controls (a video wall): the tiles only."""
        self.toolbar.setVisible(visible)

    def set_view_names(self, names: list[str]) -> None:
        self.views.clear()
        self.views.addItem("Views…")
        self.views.addItems(names)

    def _on_view(self, index: int) -> None:
        if index > 0:
            self.sig_load_view.emit(self.views.itemText(index))
            self.views.setCurrentIndex(0)

    def _on_save(self) -> None:
        name = self.view_name.text().strip()
        if name:
            self.sig_save_view.emit(name)
            self.view_name.clear()

    def _sync_layout_box(self) -> None:
        if self.layouts.currentText() != self.mosaic.layout_name:
            self.layouts.blockSignals(True)
            self.layouts.setCurrentText(self.mosaic.layout_name)
            self.layouts.blockSignals(False)
