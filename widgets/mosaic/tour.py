"""A camera tour: cycles a list of cameras through some tiles, a page every `dwell_s` seconds."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal


class Tour(QObject):
    sig_step = Signal(list)  # [(slot, camera id), ...] to show now

    def __init__(
        self, cameras: list[str], slots: list[int], dwell_s: float = 10.0, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        if not cameras or not slots:
            raise ValueError("a tour needs cameras and tiles")
        self.cameras = cameras
        self.slots = slots
        self.position = 0
        self._timer = QTimer(self, interval=int(dwell_s * 1000))
        self._timer.timeout.connect(self.step)

    def start(self) -> None:
        self.step()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def step(self) -> None:
        page = []
        for slot in self.slots:
            page.append((slot, self.cameras[self.position % len(self.cameras)]))
            self.position += 1
        self.sig_step.emit(page)
