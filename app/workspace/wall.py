"""Wall mode on a local screen: a borderless full-screen window with a mosaic or the map, no controls.

What the window shows comes from a factory `(console, role, content, state) -> LivePanel` so another
display (e.g. app/wall/display.py's WallDisplay) can be swapped in: `WorkspaceManager(wall_content=...)`.
Escape on the wall leaves wall mode (the Screens menu does too).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QScreen
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.console import Console
from app.wall.display import WallDisplay
from app.workspace.panels import LivePanel, make_map, make_mosaic

WallContentFactory = Callable[[Console, str, str, dict], LivePanel]  # console, role, content, state


class SharedWallPanel(LivePanel):
    """A shared wall: this screen attaches to the backend's WallService as wall `role` and shows
    what any supervisor pushes to it (the same display as a `vigie wall` process)."""

    def __init__(self, console: Console, role: str) -> None:
        self.display = WallDisplay(console.session, console.assets, name=role, tiles=console.tiles)
        super().__init__(self.display, owned=True)
        self.console, self.role = console, role
        self.display.follow(console.session)
        console.session.attach_wall(
            role,
            display=f"{console.session.credentials.console_name() if console.session.credentials else ''} (console screen)",
        )

    def close(self) -> None:
        self.console.session.detach_wall(self.role)
        self.display.stop()


def default_wall_content(console: Console, role: str, content: str, state: dict) -> LivePanel:
    """A shared wall (pushed content), or the mosaic or the map without controls, with its own
    state (cameras, view)."""
    if content == "shared":
        return SharedWallPanel(console, role)
    if content == "map":
        return make_map(console, f"wall-{role}", state, controls=False)
    return make_mosaic(console, f"wall-{role}", state, controls=False)


class WallWindow(QWidget):
    sig_leave = Signal()  # the operator pressed Escape on the wall

    def __init__(self, role: str, content: str, panel: LivePanel) -> None:
        super().__init__(None, Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint)
        self.role, self.content, self.panel = role, content, panel
        self.setObjectName(f"wall-{role}")
        self.setWindowTitle(f"Vigie wall — {role}")
        self.setStyleSheet("background: #000000;")
        self.setCursor(Qt.CursorShape.BlankCursor)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(panel.widget)
        self.closing = False

    def show_on(self, screen: QScreen) -> None:
        """Cover the whole screen (not only its available area: a wall has no taskbar)."""
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        self.showFullScreen()
        self.panel.set_shown(True)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.sig_leave.emit()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.closing:
            super().closeEvent(event)
            return
        event.ignore()
        self.sig_leave.emit()
