"""The full-width banner every console window shows while the server is unreachable: when the link
was lost and that the console is reconnecting by itself. Hidden while live."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget


class ConnectionBanner(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionBanner")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet(
            "QLabel#connectionBanner { background: #b62324; color: #ffffff; font-weight: bold;"
            " font-size: 13pt; padding: 8px; border-bottom: 2px solid #f85149; }"
        )
        self._since = ""
        self._retry_at = 0.0
        self._tick = QTimer(self, interval=500)
        self._tick.timeout.connect(self._render)
        self.hide()

    def show_lost(self, since: str, retry_at: float = 0.0) -> None:
        """`since`: the time the link was lost, as the header clock shows time; `retry_at`:
        time.monotonic() of the next attempt (0: attempting now)."""
        self._since, self._retry_at = since, retry_at
        self._render()
        self._tick.start()
        self.show()

    def set_retry(self, retry_at: float) -> None:
        self._retry_at = retry_at
        self._render()

    def clear(self) -> None:  # type: ignore[override]
        self._tick.stop()
        self.hide()

    def _render(self) -> None:
        left = self._retry_at - time.monotonic()
        retry = f" (next try in {left:.0f} s)" if left >= 1 else ""
        self.setText(f"⚠ Server connection lost since {self._since} — reconnecting{retry}")
