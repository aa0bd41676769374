"""The tile actions of the shortcut registry (app/shortcuts.py), bound once per console: full screen,
mosaic layouts 1-9, next and previous tile and send to a wall act on the mosaic the operator used
last (`Console.mosaic_ctl`); PTZ keys act on the selected tile of the mosaic that has the focus."""

from __future__ import annotations

from PySide6.QtCore import QObject

from vigie.app.controllers.mosaic import MosaicController
from vigie.app.shortcuts import ShortcutRegistry
from vigie.widgets.mosaic.mosaic import Mosaic

PTZ_ACTIONS = {  # registry name -> (pan, tilt, zoom) while held
    "ptz.left": (-0.6, 0.0, 0.0),
    "ptz.right": (0.6, 0.0, 0.0),
    "ptz.up": (0.0, 0.6, 0.0),
    "ptz.down": (0.0, -0.6, 0.0),
    "ptz.zoom_in": (0.0, 0.0, 0.6),
    "ptz.zoom_out": (0.0, 0.0, -0.6),
}


class MosaicKeys(QObject):
    """Application-wide tile actions, connected once; `bind_panel()` adds each mosaic's PTZ keys."""

    def __init__(self, console: QObject, shortcuts: ShortcutRegistry) -> None:
        super().__init__(console)
        self.console = console
        self.shortcuts = shortcuts
        act = shortcuts.action
        act("view.fullscreen").triggered.connect(self.full_screen)
        for n in range(1, 10):
            act(f"mosaic.layout.{n}").triggered.connect(lambda _c=False, n=n: self.layout(n))
        act("mosaic.next_tile").triggered.connect(lambda: self.step(1))
        act("mosaic.previous_tile").triggered.connect(lambda: self.step(-1))
        act("wall.send").triggered.connect(self.send_to_wall)

    def _active(self) -> MosaicController | None:
        return getattr(self.console, "mosaic_ctl", None)

    def full_screen(self) -> None:
        """F11: the mosaic over its whole screen, or back (Enter on a tile: that tile)."""
        ctl = self._active()
        if ctl is not None:
            ctl.panel.toggle_full_screen(-1)

    def layout(self, number: int) -> None:
        ctl = self._active()
        if ctl is not None:
            ctl.mosaic.set_layout_number(number)

    def step(self, by: int) -> None:
        ctl = self._active()
        if ctl is not None:
            ctl.mosaic.select_next(by)

    def send_to_wall(self) -> None:
        """The "To wall" menu of the active mosaic, to pick the wall with the arrows and Enter."""
        ctl = self._active()
        if ctl is None or not ctl.panel.to_wall.isVisible():
            ctl_msg = "No video wall to send to" if ctl is not None else "No mosaic is open"
            self.console.sig_message.emit(ctl_msg)  # type: ignore[attr-defined]
            return
        ctl.panel.to_wall.showMenu()

    def bind_panel(self, mosaic: Mosaic) -> None:
        """PTZ keys where this mosaic has the focus: the selected tile's camera moves while held."""
        for name, (pan, tilt, zoom) in PTZ_ACTIONS.items():
            action = self.shortcuts.bind(name, mosaic, lambda p=pan, t=tilt, z=zoom: mosaic.ptz_hold(p, t, z))
            action.setAutoRepeat(False)  # one move while held; the release stops it
