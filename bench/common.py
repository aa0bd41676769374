"""What every benchmark needs: running the Qt event loop for a while (never sleeping through it)."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QTimer


def spin(seconds: float, until: Callable[[], object] | None = None) -> None:
    """Run the Qt event loop for `seconds`, or until `until()` is true."""
    loop = QEventLoop()
    deadline = time.monotonic() + seconds
    timer = QTimer(interval=10)
    timer.timeout.connect(lambda: ((until and until()) or time.monotonic() > deadline) and loop.quit())
    timer.start()
    loop.exec()
    timer.stop()
