"""The playback timeline: recorded spans (protected ones darker), gaps, alarm/incident markers, a
scrubber. A click or drag asks for a seek (sig_seek); the widget holds no clock of its own."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

SPAN = QColor("#3a7d44")
PROTECTED = QColor("#1f5f8b")
GAP = QColor("#3b3b3b")
MARKER = {"alarm": QColor("#e0403a"), "incident": QColor("#e0a030")}


class Timeline(QWidget):
    sig_seek = Signal(float)  # unix seconds the user picked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.start = time.time() - 600
        self.end = time.time()
        self.spans: list[tuple[float, float, bool]] = []  # (start, end, protected)
        self.markers: list[tuple[float, str, str]] = []  # (time, kind, label)
        self.position = self.end

    def set_range(self, start: float, end: float) -> None:
        self.start, self.end = start, max(end, start + 1.0)
        self.update()

    def set_spans(
        self, spans: list[tuple[float, float, bool]], markers: list[tuple[float, str, str]]
    ) -> None:
        self.spans, self.markers = spans, markers
        self.update()

    def set_position(self, t: float) -> None:
        self.position = t
        self.update()

    def x_of(self, t: float) -> float:
        return (t - self.start) / (self.end - self.start) * self.width()

    def time_at(self, x: float) -> float:
        return self.start + max(0.0, min(1.0, x / max(1, self.width()))) * (self.end - self.start)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.sig_seek.emit(self.time_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.position = self.time_at(event.position().x())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if (
            event.button() == Qt.MouseButton.LeftButton
            and abs(self.time_at(event.position().x()) - self.position) > 0
        ):
            self.sig_seek.emit(self.time_at(event.position().x()))

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        h = self.height()
        p.fillRect(self.rect(), GAP)  # everything not recorded is a gap
        for s, e, protected in self.spans:
            x0, x1 = self.x_of(s), self.x_of(e)
            if x1 >= 0 and x0 <= self.width():
                p.fillRect(QRectF(x0, 4, max(1.0, x1 - x0), h - 8), PROTECTED if protected else SPAN)
        for t, kind, _label in self.markers:
            x = self.x_of(t)
            p.fillRect(QRectF(x - 1.5, 0, 3, 6), MARKER.get(kind, MARKER["alarm"]))
        p.setPen(QPen(QColor("white"), 2))
        x = self.x_of(self.position)
        p.drawLine(int(x), 0, int(x), h)
        p.end()
