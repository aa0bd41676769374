"""Real full screen for a mosaic or one of its tiles, on the screen it is on.

The mosaic widget is borrowed from its panel into a frameless top-level window that covers the
whole screen the panel is on (not just the Cameras panel), and given back on Escape. Borrowing the
widget keeps every tile, stream and decoder as they are: nothing restarts, only sizes change (the
mosaic controller then asks for the MAIN profile, see app/controllers/mosaic.py).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class FullScreenHost(QWidget):
    """A frameless window over one whole screen, holding a borrowed widget until Escape."""

    sig_left = Signal()

    def __init__(self, give_back: Callable[[QWidget], None]) -> None:
        super().__init__(None, Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint)
        self.setWindowTitle("Vigie — full screen")
        self.setStyleSheet("background: #0b0d10;")
        self._give_back = give_back
        self._borrowed: QWidget | None = None
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self.hint = QLabel("Esc to leave full screen", self)
        self.hint.setStyleSheet("background: rgba(0,0,0,170); color: #e6edf3; padding: 4px 10px;")
        self.hint.adjustSize()

    @property
    def borrowed(self) -> QWidget | None:
        return self._borrowed

    def enter(self, widget: QWidget, over: QWidget) -> None:
        """Show `widget` full screen on the screen `over` is on."""
        screen = over.screen()
        self._borrowed = widget
        self._lay.addWidget(widget)
        widget.show()
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        self.showFullScreen()
        # Bottom centre: clear of the name bar and of a camera's burned-in clock (bottom right).
        self.hint.move((self.width() - self.hint.width()) // 2, self.height() - self.hint.height() - 40)
        self.hint.raise_()
        self.activateWindow()
        widget.setFocus()

    def leave(self) -> None:
        """Give the widget back to its panel and close."""
        widget, self._borrowed = self._borrowed, None
        if widget is not None:
            self._lay.removeWidget(widget)
            self._give_back(widget)
        self.hide()
        self.sig_left.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.leave()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._borrowed is not None:
            self.leave()
        super().closeEvent(event)
