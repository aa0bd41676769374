"""The mosaic with its toolbar: layout, named views, tour, snapshot, send to a video wall. Emits what
the operator asks."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vigie.widgets.mosaic.fullscreen import FullScreenHost
from vigie.widgets.mosaic.layouts import LAYOUTS
from vigie.widgets.mosaic.mosaic import Mosaic
from vigie.widgets.wall.send_menu import WallChoices


class MosaicPanel(QWidget):
    sig_save_view = Signal(str)
    sig_load_view = Signal(str)
    sig_tour = Signal(bool)  # start (True) / stop a tour of the cameras through the whole mosaic
    sig_snapshot = Signal()  # of the selected tile
    sig_send_to_wall = Signal(str, object)  # wall name, payload (see widgets/wall/send_menu.py)
    sig_full_screen_changed = Signal(bool)  # the mosaic is (no longer) over a whole screen

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
        self.view_name.setMaxLength(64)
        self.share = QCheckBox("for the room")
        self.share.setToolTip("Save the view for everyone in the room (supervisors)")
        self.share.hide()
        self.tour = QPushButton("Tour")
        self.tour.setCheckable(True)
        self.tour.setToolTip("Cycle the cameras through the mosaic")
        self.tour.toggled.connect(self.sig_tour)
        self.snapshot = QPushButton("Snapshot")
        self.snapshot.setToolTip("Save the selected tile's picture with the camera name and time")
        self.snapshot.clicked.connect(self.sig_snapshot)
        self.walls = WallChoices()
        self.view_title = ""  # the named view last opened or saved (the wall's caption)
        self.to_wall = QToolButton(text="To wall")
        self.to_wall.setToolTip("Send this view (layout and cameras) to a video wall")
        self.to_wall.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.to_wall.setMenu(QMenu(self.to_wall))
        self.to_wall.menu().aboutToShow.connect(self._fill_wall_menu)
        self.to_wall.hide()  # until there is a wall
        self.layouts.activated.connect(lambda _i: setattr(self, "view_title", ""))
        self.toolbar = QWidget()
        bar = QHBoxLayout(self.toolbar)
        bar.setContentsMargins(0, 0, 0, 4)
        bar.addWidget(self.layouts)
        bar.addWidget(self.views, 1)
        bar.addWidget(self.view_name)
        bar.addWidget(self.share)
        bar.addWidget(self.tour)
        bar.addWidget(self.snapshot)
        bar.addWidget(self.to_wall)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.caption = QLabel()
        self.caption.setObjectName("mosaicCaption")
        self.caption.setContentsMargins(6, 2, 6, 2)
        self.caption.hide()
        lay.addWidget(self.toolbar)
        lay.addWidget(self.caption)
        lay.addWidget(self.mosaic, 1)
        self._lay = lay
        self.mosaic.sig_changed.connect(self._sync_layout_box)
        self.full_screen = FullScreenHost(self._give_back)
        self._maximised_before: int | None = None
        self.mosaic.sig_full_screen.connect(self.toggle_full_screen)
        self.destroyed.connect(self.full_screen.deleteLater)

    # ---- full screen ---------------------------------------------------------------------------

    def is_full_screen(self) -> bool:
        return self.full_screen.borrowed is not None

    def toggle_full_screen(self, slot: int = -1) -> None:
        """A tile (`slot`) or the whole mosaic (-1) over the whole screen this panel is on; the
        same key again, or Escape, comes back with the layout as it was."""
        if self.is_full_screen():
            self.full_screen.leave()
            return
        self._maximised_before = self.mosaic.maximised
        if slot >= 0:
            self.mosaic.set_maximised(slot)
        self.full_screen.enter(self.mosaic, self)
        self.sig_full_screen_changed.emit(True)

    def _give_back(self, mosaic: QWidget) -> None:
        self._lay.addWidget(mosaic, 1)
        mosaic.show()
        self.mosaic.set_maximised(self._maximised_before)
        tile = self.mosaic.tiles[self.mosaic.selected] if self.mosaic.selected >= 0 else self.mosaic
        tile.setFocus()
        self.sig_full_screen_changed.emit(False)

    def set_controls_visible(self, visible: bool) -> None:
        """Without controls (a video wall): the tiles only."""
        self.toolbar.setVisible(visible)

    def set_may_share(self, may: bool) -> None:
        """Supervisors may save a view for the whole room."""
        self.share.setVisible(may)
        if not may:
            self.share.setChecked(False)

    def set_caption(self, text: str) -> None:
        """A line over the tiles (the alarm preview says which alarm it shows)."""
        self.caption.setText(text)
        self.caption.setVisible(bool(text))

    def set_view_names(self, names: list[str]) -> None:
        self.views.clear()
        self.views.addItem("Views…")
        self.views.addItems(names)

    def _on_view(self, index: int) -> None:
        if index > 0:
            self.view_title = self.views.itemText(index)
            self.sig_load_view.emit(self.view_title)
            self.views.setCurrentIndex(0)

    def _on_save(self) -> None:
        name = self.view_name.text().strip()
        if name:
            self.view_title = name
            self.sig_save_view.emit(name)
            self.view_name.clear()

    # ---- video walls ---------------------------------------------------------------------------

    def set_walls(self, names: list[str], offline: set[str] | frozenset[str] = frozenset()) -> None:
        """The walls this mosaic may send to (none: the entries are not offered)."""
        self.walls.set_walls(names, offline)
        self.to_wall.setVisible(bool(names))

    def view_payload(self) -> dict:
        """The whole view as a wall shows it: the layout and every camera it places."""
        m = self.mosaic
        size = LAYOUTS[m.layout_name].size
        return {
            "kind": "mosaic",
            "name": self.view_title,
            "layout": m.layout_name,
            "camera_ids": list(m.cameras[:size]),
        }

    def add_send_menus(self, menu: QMenu, slot: int) -> None:
        """A tile's right-click menu: send its camera, or the whole view, to a wall."""
        send = self.sig_send_to_wall.emit
        cam = self.mosaic.cameras[slot]
        if cam:
            self.walls.add_menu(menu, {"kind": "camera", "camera_id": cam}, send, "Send camera to wall")
        self.walls.add_menu(menu, self.view_payload(), send, "Send this view to wall")

    def _fill_wall_menu(self) -> None:
        menu = self.to_wall.menu()
        menu.clear()
        payload = self.view_payload()
        for name in self.walls.names:
            label = f"{name}  (no display now)" if name in self.walls.offline else name
            menu.addAction(label).triggered.connect(
                lambda _=False, n=name: self.sig_send_to_wall.emit(n, payload)
            )

    def _sync_layout_box(self) -> None:
        if self.layouts.currentText() != self.mosaic.layout_name:
            self.layouts.blockSignals(True)
            self.layouts.setCurrentText(self.mosaic.layout_name)
            self.layouts.blockSignals(False)
