"""A grey veil over a data panel whose data stopped being live, with the age of that data: an
operator never mistakes a list frozen by a lost server for a quiet city. It follows its panel's size
and lets clicks through (the operator may still scroll and read)."""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget


def age_text(seconds: float) -> str:
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class StaleOverlay(QWidget):
    def __init__(self, target: QWidget) -> None:
        super().__init__(target)
        self.setObjectName("staleOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.since = 0.0  # unix time of the last live data
        self.since_text = ""
        self._tick = QTimer(self, interval=1000)
        self._tick.timeout.connect(self.update)
        target.installEventFilter(self)
        self.hide()

    def set_stale(self, since: float, since_text: str) -> None:
        """Grey the panel: its data is from `since` (shown as `since_text`)."""
        self.since, self.since_text = since, since_text
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        self.show()
        self._tick.start()

    def set_live(self) -> None:
        self.since = 0.0
        self._tick.stop()
        self.hide()

    def text(self) -> str:
        return f"SERVER UNREACHABLE\ndata from {self.since_text} ({age_text(time.time() - self.since)} old)"

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.parentWidget() and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self.setGeometry(self.parentWidget().rect())
            if self.isVisible():
                self.raise_()
        return False

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(13, 16, 20, 150))
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(max(10.0, font.pointSizeF() * 1.2))
        p.setFont(font)
        lines = self.text()
        fm = p.fontMetrics()
        w = max(fm.horizontalAdvance(line) for line in lines.split("\n")) + 32
        h = fm.height() * 2 + 20
        box = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        p.fillRect(box, QColor("#2d1618"))
        p.setPen(QColor("#f85149"))
        p.drawRect(box)
        p.setPen(QColor("#ffb3ad"))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, lines)
