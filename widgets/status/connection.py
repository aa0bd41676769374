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

    def set_state(self, state: str, detail: str, retry_at: float) -> None:
        self.state, self._detail, self._retry_at = state, detail, retry_at
        if retry_at:
            self._tick.start()
        else:
            self._tick.stop()
        self._render()

    def _render(self) -> None:
        label, color = STYLES.get(self.state, STYLES["stopped"])
        text = label
        if self._retry_at:
            left = max(0.0, self._retry_at - time.monotonic())
            text += f" · retry in {left:.0f} s"
        self.setText(text)  # words only: the raw gRPC detail is for the tooltip, not the operator
        self.setToolTip(self._detail)
        style = f"color: {color}; font-weight: bold; padding: 0 10px;"
        if style != self.styleSheet():  # re-styling every countdown tick costs a re-polish
            self.setStyleSheet(style)
