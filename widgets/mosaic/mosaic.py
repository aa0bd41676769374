"""The camera mosaic: tiles in a layout, one maximised tile, a selected tile, and its keys.

Keys on a focused tile: Enter shows the selected tile full screen, F11 the whole mosaic (Escape
leaves, see widgets/mosaic/fullscreen.py); 1-9 pick the layouts in their menu order; Tab goes to
the next tile (focus selects); arrows pan and tilt a PTZ camera while held, + and - zoom.

Tile i always holds slot i's camera, whatever the layout, so switching layouts keeps cameras in
place; slots beyond the layout's size keep their camera but are hidden (their streams stop).
The mosaic knows camera ids and names only; its owner feeds pictures and reacts to its signals.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QGridLayout, QWidget

from vigie.widgets.mosaic.layouts import LAYOUTS, MAX_TILES
from vigie.widgets.mosaic.tile import VideoTile


class Mosaic(QWidget):
    sig_changed = Signal()  # layout, maximised tile or a camera changed: visible streams may change
    sig_selected = Signal(int)
    sig_full_screen = Signal(int)  # the operator asks for full screen: a slot, or -1 for the mosaic

    PTZ_KEYS = {  # key -> (pan, tilt, zoom) while held
        Qt.Key.Key_Left: (-0.6, 0.0, 0.0),
        Qt.Key.Key_Right: (0.6, 0.0, 0.0),
        Qt.Key.Key_Up: (0.0, 0.6, 0.0),
        Qt.Key.Key_Down: (0.0, -0.6, 0.0),
        Qt.Key.Key_Plus: (0.0, 0.0, 0.6),
        Qt.Key.Key_Equal: (0.0, 0.0, 0.6),  # "+" without Shift on most keyboards
        Qt.Key.Key_Minus: (0.0, 0.0, -0.6),
    }

    def __init__(self, layout: str = "2x2", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles = [VideoTile(i, parent=self) for i in range(MAX_TILES)]
        self.cameras = ["" for _ in range(MAX_TILES)]
        self.layout_name = layout
        self.maximised: int | None = None
        self.selected = 0
        self._ptz_held = False
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(3)
        for tile in self.tiles:
            tile.hide()
            tile.sig_clicked.connect(lambda t=tile: self.select(t.index))
            tile.sig_double_clicked.connect(lambda t=tile: self.toggle_maximise(t.index))
            tile.sig_focused.connect(lambda t=tile: self.select(t.index))
        self._arrange()
        self.select(0)

    # ---- layout --------------------------------------------------------------------------------

    def set_layout(self, name: str) -> None:
        if name not in LAYOUTS:
            raise ValueError(f"unknown layout {name!r}; known: {', '.join(LAYOUTS)}")
        self.layout_name = name
        self.maximised = None
        self._arrange()
        if self.selected >= LAYOUTS[name].size:
            self.select(0)
        self.sig_changed.emit()

    def toggle_maximise(self, slot: int) -> None:
        """Double-click: the tile fills the mosaic; again: back to the layout."""
        self.maximised = None if self.maximised == slot else slot
        self._arrange()
        self.sig_changed.emit()

    def set_maximised(self, slot: int | None) -> None:
        if slot != self.maximised:
            self.maximised = slot
            self._arrange()
            self.sig_changed.emit()

    def set_layout_number(self, number: int) -> None:
        """Keys 1-9: the layouts in their menu order (widgets/mosaic/layouts.py)."""
        names = list(LAYOUTS)
        if 1 <= number <= len(names):
            self.set_layout(names[number - 1])

    def select_next(self, by: int = 1) -> None:
        """The next (or, with -1, previous) visible tile, wrapping; selected and focused."""
        visible = self.visible_slots()
        i = visible.index(self.selected) + by if self.selected in visible else 0
        slot = visible[i % len(visible)]
        self.select(slot)
        self.tiles[slot].setFocus(Qt.FocusReason.TabFocusReason)

    def ptz_hold(self, pan: float, tilt: float, zoom: float) -> bool:
        """Move the selected tile's PTZ camera until the key is released (keyReleaseEvent)."""
        if not (0 <= self.selected < len(self.tiles)):
            return False
        tile = self.tiles[self.selected]
        if not (tile.ptz and tile.camera_id):
            return False
        tile.sig_ptz.emit("move", pan, tilt, zoom, 0)
        self._ptz_held = True
        return True

    def ptz_key(self, key: Qt.Key, pressed: bool) -> bool:
        """PTZ on the selected tile from the keyboard without a shortcut registry (arrows, + and -)."""
        if key not in self.PTZ_KEYS:
            return False
        if pressed:
            return self.ptz_hold(*self.PTZ_KEYS[key])
        return self._ptz_release()

    def _ptz_release(self) -> bool:
        if not self._ptz_held:
            return False
        self._ptz_held = False
        tile = self.tiles[self.selected] if 0 <= self.selected < len(self.tiles) else None
        if tile is not None:
            tile.sig_ptz.emit("stop", 0.0, 0.0, 0.0, 0)
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.sig_full_screen.emit(self.selected)
        elif key == Qt.Key.Key_F11:
            self.sig_full_screen.emit(-1)
        elif (
            Qt.Key.Key_1 <= key <= Qt.Key.Key_9
            and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ):
            self.set_layout_number(key - Qt.Key.Key_0)
        elif key in self.PTZ_KEYS and (event.isAutoRepeat() or self.ptz_key(key, True)):
            pass
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        # Whatever key started the move (a registry key the operator chose too), its release stops it.
        if not event.isAutoRepeat() and self._ptz_release():
            return
        super().keyReleaseEvent(event)

    def _arrange(self) -> None:
        had_focus = any(t.hasFocus() for t in self.tiles)
        self._place_tiles()
        if had_focus:  # hiding tiles must not throw the keyboard focus to some other panel's button
            visible = self.visible_slots()
            slot = self.selected if self.selected in visible else visible[0]
            self.tiles[slot].setFocus(Qt.FocusReason.OtherFocusReason)

    def _place_tiles(self) -> None:
        grid = self._grid
        for tile in self.tiles:
            grid.removeWidget(tile)
            tile.hide()
        layout = LAYOUTS[self.layout_name]
        for i in range(max(grid.rowCount(), grid.columnCount(), 6)):
            grid.setRowStretch(i, 0)
            grid.setColumnStretch(i, 0)
        if self.maximised is not None:
            grid.addWidget(self.tiles[self.maximised], 0, 0)
            grid.setRowStretch(0, 1)
            grid.setColumnStretch(0, 1)
            self.tiles[self.maximised].show()
            return
        for i, (r, c, rs, cs) in enumerate(layout.cells):
            grid.addWidget(self.tiles[i], r, c, rs, cs)
            self.tiles[i].show()
        for r in range(layout.rows):
            grid.setRowStretch(r, 1)
        for c in range(layout.cols):
            grid.setColumnStretch(c, 1)

    def visible_slots(self) -> list[int]:
        if self.maximised is not None:
            return [self.maximised]
        return list(range(LAYOUTS[self.layout_name].size))

    # ---- cameras -------------------------------------------------------------------------------

    def set_camera(
        self,
        slot: int,
        camera_id: str,
        name: str = "",
        ptz: bool = False,
        presets: list[tuple[int, str]] | None = None,
    ) -> None:
        self.cameras[slot] = camera_id
        self.tiles[slot].set_camera(camera_id, name or camera_id, ptz, presets)
        self.sig_changed.emit()

    def clear(self, slot: int) -> None:
        self.set_camera(slot, "", "")

    def select(self, slot: int) -> None:
        self.selected = slot
        for t in self.tiles:
            if t.selected != (t.index == slot):
                t.selected = t.index == slot
                t.update()
        self.sig_selected.emit(slot)

    def set_overlay(self, label_pt: float, show_fps: bool = True) -> None:
        """The tiles' overlay text size, and whether they show the frame rate (see VideoTile)."""
        for tile in self.tiles:
            tile.set_overlay(label_pt, show_fps)

    def view_state(self) -> dict:
        """What a named view saves: the layout and the camera of every slot it shows."""
        size = LAYOUTS[self.layout_name].size
        return {"layout": self.layout_name, "cameras": self.cameras[:size]}
