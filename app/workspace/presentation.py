"""Presentation mode: a local screen given over to one view, borderless and full screen, no controls.

A screen in presentation mode shows a mosaic, the map, or a shared wall (it attaches to the backend's
WallService under its role and shows what supervisors push, like a `vigie wall` display). It is this
console's own business: nothing is shared unless the content is "shared". Its console window steps
aside while it is shown; a presentation whose screen is gone waits for it (it never folds over
someone's console). Escape leaves presentation mode (the Screens menu does too), and the window says
so for its first seconds. Presenting on the screen that shows the last console window (a laptop)
would hide the console and its alarm list: it asks first (Enter confirms, Escape cancels).

What the window shows comes from a factory `(console, role, content, state) -> LivePanel`, so another
view can be swapped in: `WorkspaceManager(content_factory=...)`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QScreen
from PySide6.QtWidgets import QLabel, QMessageBox, QVBoxLayout, QWidget

from vigie.app.console import Console
from vigie.app.wall.display import WallDisplay
from vigie.app.workspace.model import Presentation
from vigie.app.workspace.panels import LivePanel, make_map, make_mosaic
from vigie.app.workspace.state import ManagerState

ContentFactory = Callable[[Console, str, str, dict], LivePanel]  # console, role, content, state
HINT_MS = 8000  # how long a new presentation shows "Esc to leave"
CONTENT_NAMES = {"mosaic": "a camera mosaic", "map": "the map", "shared": "a shared video wall"}


class SharedWallPanel(LivePanel):
    """A shared wall: this screen attaches to the backend's WallService as wall `role` and shows
    what any supervisor pushes to it (the same display as a `vigie wall` process)."""

    def __init__(self, console: Console, role: str) -> None:
        self.display = WallDisplay(console.session, console.assets, name=role, tiles=console.tiles)
        super().__init__(self.display, owned=True)
        self.console, self.role = console, role
        self.display.follow(console.session)
        credentials = console.session.credentials
        console.session.attach_wall(
            role,
            display=f"{credentials.console_name() if credentials else ''} (console screen)",
        )

    def close(self) -> None:
        self.console.session.detach_wall(self.role)
        self.display.stop()


def default_content(console: Console, role: str, content: str, state: dict) -> LivePanel:
    """A shared wall (pushed content), or the mosaic or the map without controls, with its own
    state (cameras, view)."""
    if content == "shared":
        return SharedWallPanel(console, role)
    if content == "map":
        return make_map(console, f"presentation-{role}", state, controls=False)
    return make_mosaic(console, f"presentation-{role}", state, controls=False)


class PresentationWindow(QWidget):
    sig_leave = Signal()  # the operator pressed Escape on it

    def __init__(self, role: str, content: str, panel: LivePanel) -> None:
        super().__init__(None, Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint)
        self.role, self.content, self.panel = role, content, panel
        self.setObjectName(f"presentation-{role}")
        self.setWindowTitle(f"Vigie presentation — {role}")
        self.setStyleSheet("background: #000000;")
        self.setCursor(Qt.CursorShape.BlankCursor)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(panel.widget)
        self.closing = False
        self.hint = QLabel("Esc to leave presentation mode", self)
        self.hint.setStyleSheet(
            "background: rgba(0,0,0,190); color: #e6edf3; padding: 8px 16px; font-size: 16pt; border-radius: 6px;"
        )
        self.hint.adjustSize()
        self._hint_timer = QTimer(self, singleShot=True, interval=HINT_MS)
        self._hint_timer.timeout.connect(self.hint.hide)

    def show_on(self, screen: QScreen) -> None:
        """Cover the whole screen (not only its available area: nobody needs a taskbar there)."""
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        self.showFullScreen()
        self.panel.set_shown(True)
        g = screen.geometry()
        self.hint.move((g.width() - self.hint.width()) // 2, g.height() - self.hint.height() - 40)
        self.hint.show()
        self.hint.raise_()
        self._hint_timer.start()

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


class PresentationMode(ManagerState):
    """The manager's presentation part: `presentations` (role -> what it shows, also while its
    screen is away) and the `presentation_windows` shown now."""

    presentation_question: QMessageBox | None = None

    def set_presentation(self, role: str, content: str | None, confirmed: bool = False) -> None:
        """Presentation mode on `role`'s screen: "mosaic", "map", "shared", or None (back to the
        console window). One that would hide the last console window asks first."""
        if content is not None and not confirmed and self._hides_last_console(role):
            self._ask_presentation(role, content)
            return
        if content is None:
            if role in self.presentations:
                self._close_presentation_window(role)
                del self.presentations[role]
        else:
            old = self.presentations.get(role)
            self.presentations[role] = Presentation(
                content, old.state if old and old.content == content else {}
            )
        if role not in self.known and self._own_screen(role) is None:
            self._claim_screen(role)
        self._place_all()
        self.sig_changed.emit()

    def _hides_last_console(self, role: str) -> bool:
        """Whether presenting on `role`'s screen leaves no console window in view."""
        screen = self._own_screen(role) or (self._screens()[0] if self._screens() else None)
        if screen is None:
            return False
        others = [
            w
            for r, w in self.windows.items()
            if w.isVisible() and r != role and w.screen() is not screen and r not in self.presentations
        ]
        return not others

    def _ask_presentation(self, role: str, content: str) -> None:
        """A small question, not modal (alarms keep coming): Enter presents, Escape cancels."""
        if self.presentation_question is not None:
            self.presentation_question.close()
        window = self.windows.get(role) or next(iter(self.windows.values()), None)
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Presentation mode",
            f"Show {CONTENT_NAMES.get(content, content)} on this whole screen? It hides the console "
            "and its alarm list until you press Escape.",
            QMessageBox.StandardButton.NoButton,
            window,
        )
        present = box.addButton("Present (Esc leaves)", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(present)
        box.setEscapeButton(cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        present.clicked.connect(lambda: self.set_presentation(role, content, confirmed=True))
        box.finished.connect(lambda _r: setattr(self, "presentation_question", None))
        self.presentation_question = box
        box.open()

    def _presentation_shown_on(self, role: str) -> bool:
        return role in self.presentations and self._own_screen(role) is not None

    def _place_presentations(self) -> None:
        for role, shown in self.presentations.items():
            screen = self._own_screen(role)
            win = self.presentation_windows.get(role)
            if screen is None:  # its screen is away: it waits (never over someone's console)
                if win is not None:
                    win.hide()
                    win.panel.set_shown(False)
                continue
            if win is None or win.content != shown.content:
                if win is not None:
                    self._close_presentation_window(role)
                panel = self.content_factory(self.console, role, shown.content, shown.state)
                win = PresentationWindow(role, shown.content, panel)
                win.sig_leave.connect(lambda r=role: self.set_presentation(r, None))
                self.presentation_windows[role] = win
            win.show_on(screen)
        for role in [r for r in self.presentation_windows if r not in self.presentations]:
            self._close_presentation_window(role)

    def _close_presentation_window(self, role: str) -> None:
        win = self.presentation_windows.pop(role, None)
        if win is None:
            return
        if role in self.presentations:
            self.presentations[role].state = win.panel.state()
        win.panel.close()
        win.closing = True
        win.close()
        win.deleteLater()
