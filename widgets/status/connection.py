"""The connection indicator: connected / reconnecting / disconnected and the retry countdown, in
words; the address and the raw reason in its tooltip. It sits in the header, where passing
status-bar messages never hide it."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

STYLES = {
    "connected": ("● CONNECTED", "#3fb950"),
    "connecting": ("◌ CONNECTING…", "#e3b341"),
    "reconnecting": ("◌ RECONNECTING…", "#e3b341"),
    "disconnected": ("✖ DISCONNECTED", "#f85149"),
    "stopped": ("■ STOPPED", "#8b949e"),
}


class ConnectionIndicator(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionIndicator")
        self.state = "stopped"
        self._detail = ""
        self._retry_at = 0.0
        self._tick = QTimer(self, interval=250)  # only runs during a countdown
        self._tick.timeout.connect(self._render)
        self._render()
        widest = max(self.fontMetrics().horizontalAdvance(label) for label, _ in STYLES.values())
        self.setMinimumWidth(int(widest * 1.15) + 24)  # bold, plus the padding

    def set_state(self, state: str, detail: str, retry_at: float) -> None:
        self.state, self._detail, self._retry_at = state, detail, retry_at
        if retry_at:
            self._tick.start()
        else:
            self._tick.stop()
        self._render()

    def _render(self) -> None:
        label, color = STYLES.get(self.state, STYLES["stopped"])
        # Words only, of one width (the header never jumps): the raw gRPC detail and the retry
        # countdown are in the tooltip (the lost-server banner shows the countdown too).
        self.setText(label)
        retry = ""
        if self._retry_at:
            retry = f"\nnext try in {max(0.0, self._retry_at - time.monotonic()):.0f} s"
        self.setToolTip(self._detail + retry)
        style = f"color: {color}; font-weight: bold; padding: 0 10px;"
        if style != self.styleSheet():  # re-styling every countdown tick costs a re-polish
            self.setStyleSheet(style)
