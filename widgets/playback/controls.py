"""The playback bar under a tile or a playback workspace: timeline, direction, speed (1/4x-16x),
pause, frame step and "back to live". It only reports what the operator asks for."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from vigie.widgets.playback.timeline import Timeline

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def clock_text(t: float) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%H:%M:%S")


class PlaybackBar(QWidget):
    sig_seek = Signal(float)
    sig_speed = Signal(float)  # signed: negative plays in reverse; 0 pauses
    sig_step = Signal(int)
    sig_live = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        self.timeline = Timeline(self)
        self.reverse = QToolButton(self, text="◀", checkable=True, toolTip="Play in reverse")
        self.pause = QToolButton(self, text="❚❚", checkable=True, toolTip="Pause")
        self.back = QToolButton(self, text="|◀", toolTip="One frame back (paused)")
        self.forward = QToolButton(self, text="▶|", toolTip="One frame forward (paused)")
        self.speed = QComboBox(self)
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}×" if s >= 1 else f"1/{round(1 / s)}×", s)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.clock = QLabel("PLAYBACK --:--:--", self)
        self.clock.setStyleSheet("color: #ffb000; font-weight: bold;")
        self.live = QToolButton(self, text="Back to live")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.reverse, self.pause, self.back, self.forward, self.speed, self.clock):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.live)
        box = QVBoxLayout(self)
        box.setContentsMargins(2, 2, 2, 2)
        box.setSpacing(1)
        box.addWidget(self.timeline)
        box.addLayout(row)
        self.timeline.sig_seek.connect(self.sig_seek)
        self.reverse.toggled.connect(self._emit_speed)
        self.pause.toggled.connect(self._emit_speed)
        self.speed.currentIndexChanged.connect(self._emit_speed)
        self.back.clicked.connect(lambda: self.sig_step.emit(-1))
        self.forward.clicked.connect(lambda: self.sig_step.emit(1))
        self.live.clicked.connect(self.sig_live)
        self._emit_speed()

    def compact(self) -> None:
        """For a tile: no clock text (the tile's header shows it), a short "Live" button."""
        self.clock.hide()
        self.live.setText("Live")
        self.live.setToolTip("Back to live")

    def signed_speed(self) -> float:
        if self.pause.isChecked():
            return 0.0
        s = float(self.speed.currentData())
        return -s if self.reverse.isChecked() else s

    def _emit_speed(self) -> None:
        paused = self.pause.isChecked()
        self.back.setEnabled(paused)
        self.forward.setEnabled(paused)
        self.sig_speed.emit(self.signed_speed())

    def set_position(self, t: float) -> None:
        self.timeline.set_position(t)
        self.clock.setText(f"PLAYBACK {clock_text(t)}")
