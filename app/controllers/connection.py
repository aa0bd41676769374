"""Whether the console's data is live: the client layer's link state (the asset watch drives it,
app/client/assets.py over app/client/streams.py) turned into "lost since" and "restored", which the
console shows everywhere at once (banner, greyed panels, tiles, disabled actions)."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Signal

from vigie.app import city_time
from vigie.app.client.session import Session

LIVE_STATES = ("connected",)


class ConnectionWatch(QObject):
    sig_lost = Signal(float)  # unix time the data stopped being live
    sig_restored = Signal()
    sig_retry = Signal(float)  # time.monotonic() of the next attempt (0: none planned)
    sig_changed = Signal()  # lost or restored: whoever gates actions on the link looks again

    def __init__(self, session: Session, parent: Any = None) -> None:
        super().__init__(parent)
        self.lost_since = 0.0  # 0 while live (or before the first connection)
        self.ever_live = False
        self._core = session.core
        session.sig_connection.connect(self._on_state)

    @property
    def live(self) -> bool:
        return not self.lost_since

    def _on_state(self, state: str, _detail: str, retry_at: float) -> None:
        if state in LIVE_STATES:
            self.ever_live = True
            if self.lost_since:
                self.lost_since = 0.0
                self.sig_restored.emit()
                self.sig_changed.emit()
            return
        if state == "stopped" or not self.ever_live:
            return  # the console closing, or still starting: no data to call stale yet
        if not self._core.logged_in.is_set() and not self.lost_since:
            return  # logged out (refused, switching user): the server is there, the login dialog says
        if not self.lost_since:
            self.lost_since = time.time()
            self.sig_lost.emit(self.lost_since)
            self.sig_changed.emit()
        self.sig_retry.emit(retry_at)

    def gate(self, allowed: bool, why: str) -> tuple[bool, str]:
        """An action's (allowed, why not) once the link counts: nothing that writes is allowed
        while the server is lost, and the reason says so (not the role's)."""
        return (allowed, why) if self.live else (False, self.reason())

    def reason(self) -> str:
        """Why an action is disabled, in words an operator reads."""
        return f"Server connection lost since {city_time.strftime('%H:%M:%S', self.lost_since)}: this resumes by itself when it is back"
