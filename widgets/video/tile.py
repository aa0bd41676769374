"""A video tile: paints the latest ready QImage with the camera's name, picture age and fps.

A picture older than `lost_after` seconds is never shown as live: the tile dims it and says
"SIGNAL LOST" with the age of the last picture. The tile only paints; decoding and scaling
happen in a worker before the QImage arrives here.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget


def _age_text(seconds: float) -> str:
    return (
        f"{seconds:.1f} s"
        if seconds < 10
        else f"{seconds:.0f} s"
        if seconds < 120
        else f"{seconds / 60:.0f} min"
    )


class VideoTile(QWidget):
    sig_double_clicked = Signal()
    sig_resized = Signal(QSize)  # the decoder scales pictures to this size

    def __init__(self, lost_after: float = 2.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.lost_after = lost_after
        self.camera_id = ""
        self.camera_name = ""
        self.image: QImage | None = None
        self.captured = 0.0  # unix time the shown picture was taken
        self.received = 0.0  # monotonic time it arrived
        self.sequence = 0
        self.frames = 0
        self.fps = 0.0
        self.selected = False
        self._fps_window: list[float] = []
        self._age_timer = QTimer(self, interval=250)  # the age text and "signal lost" need a clock
        self._age_timer.timeout.connect(self.update)
        self._age_timer.start()
        self._font = QFont(self.font())
        self._font.setPointSizeF(max(10.0, self.font().pointSizeF()))
        self._font.setBold(True)

    def set_camera(self, camera_id: str, name: str) -> None:
        self.camera_id, self.camera_name = camera_id, name
        self.image = None
        self.frames = 0
        self.fps = 0.0
        self._fps_window.clear()
        self.update()

    def set_frame(self, image: QImage, captured: float, sequence: int) -> None:
        now = time.monotonic()
        self.image, self.captured, self.sequence, self.received = image, captured, sequence, now
        self.frames += 1
        win = self._fps_window
        win.append(now)
        while win and now - win[0] > 2.0:
            win.pop(0)
        self.fps = (len(win) - 1) / (win[-1] - win[0]) if len(win) > 1 and win[-1] > win[0] else 0.0
        self.update()

    def is_live(self) -> bool:
        return self.image is not None and time.monotonic() - self.received <= self.lost_after

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.sig_resized.emit(event.size())

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.sig_double_clicked.emit()
        super().mouseDoubleClickEvent(event)

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        rect = QRectF(self.rect())
        p.fillRect(rect, QColor("#0b0d10"))
        live = self.is_live()
        if self.image is not None:
            img = self.image
            scale = min(rect.width() / img.width(), rect.height() / img.height())
            w, h = img.width() * scale, img.height() * scale
            target = QRectF(rect.center().x() - w / 2, rect.center().y() - h / 2, w, h)
            if not live:
                p.setOpacity(0.35)
            p.drawImage(target, img)
            p.setOpacity(1.0)
        p.setFont(self._font)
        fm = p.fontMetrics()
        bar_h = fm.height() + 8
        # Top bar: name (left, elided), live dot + picture age + fps (right).
        p.fillRect(QRectF(0, 0, rect.width(), bar_h), QColor(0, 0, 0, 150))
        right_w = 0.0
        if self.image is not None:
            age = max(0.0, time.time() - self.captured)
            right = f"{_age_text(age)} · {self.fps:.0f} fps" if live else f"last {_age_text(age)}"
            color = QColor("#3fb950") if live else QColor("#f85149")
            tw = fm.horizontalAdvance(right)
            d = 10
            right_w = tw + d + 16
            p.setPen(QColor("#e6edf3"))
            p.drawText(QRectF(rect.width() - tw - 8, 0, tw, bar_h), Qt.AlignmentFlag.AlignVCenter, right)
            p.setBrush(color)
            p.setPen(Qt.PenStyle.NoPen)
            p.drawEllipse(QRectF(rect.width() - tw - 14 - d, (bar_h - d) / 2, d, d))
        name_w = max(0.0, rect.width() - right_w - 16)
        name = fm.elidedText(self.camera_name or "No camera", Qt.TextElideMode.ElideRight, int(name_w))
        p.setPen(QColor("#e6edf3"))
        p.drawText(
            QRectF(8, 0, name_w, bar_h), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name
        )
        if not live and self.camera_id:
            text = "SIGNAL LOST" if self.image is not None else "CONNECTING…"
            p.setPen(QColor("#f85149") if self.image is not None else QColor("#e3b341"))
            big = QFont(self._font)
            big.setPointSizeF(self._font.pointSizeF() * 1.6)
            p.setFont(big)
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        if self.selected:
            p.setPen(QPen(QColor("#58a6ff"), 3))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(rect.adjusted(1.5, 1.5, -1.5, -1.5))
        p.end()
