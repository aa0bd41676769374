"""Help > Diagnostics: fills widgets/diagnostics/dialog.py from the session's diagnostics client
(app/client/diagnostics.py), the video feeds' decoders (app/wall/feeds.py) and the console's
log file (app/logfile.py); refreshes every second while the dialog is shown. One dialog per
session: opening it again raises the one already open."""

from __future__ import annotations

import weakref

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

from vigie.app import logfile
from vigie.app.client.diagnostics import ConnectionReport
from vigie.app.client.session import Session
from vigie.app.wall.feeds import ALL_FEEDS
from vigie.widgets.diagnostics.dialog import DiagnosticsDialog

REFRESH_MS = 1000
_open: weakref.WeakKeyDictionary[Session, DiagnosticsController] = weakref.WeakKeyDictionary()


def console_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vigie")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "none yet"
    return f"{seconds:.1f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


class DiagnosticsController(QObject):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.dialog = DiagnosticsDialog(parent)
        self.timer = QTimer(self, interval=REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.dialog.sig_refresh.connect(self.refresh)
        self.dialog.finished.connect(lambda _r: self.timer.stop())
        session.diagnostics.sig_report.connect(self._on_report)
        path = logfile.current()
        self.dialog.set_summary(
            [
                ("Console version", console_version()),
                ("Backend version", "asking…"),
                ("Backend address", session.address),
                ("Connection", session.state),
                ("Round-trip time", "measuring…"),
                ("Log file", str(path) if path else "none (standard error only)"),
            ]
        )

    @classmethod
    def show_for(cls, session: Session, parent: QWidget | None = None) -> DiagnosticsController:
        ctl = _open.get(session)
        if ctl is None:
            ctl = _open[session] = cls(session, parent)
        ctl.show()
        return ctl

    def show(self) -> None:
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        self.refresh()
        self.timer.start()

    def refresh(self) -> None:
        self.session.diagnostics.request()
        rows = []
        for feeds in list(ALL_FEEDS):
            for prefix, camera, received, decoded, dropped in feeds.tile_stats():
                rows.append((prefix, camera, str(received), str(decoded), str(dropped)))
        self.dialog.set_tiles(sorted(rows))

    def _on_report(self, report: ConnectionReport) -> None:
        user = f"{report.user} ({report.role})" if report.user else "not logged in"
        self.dialog.set_summary(
            [
                ("Backend version", report.backend_version or ("unknown" if report.problem else "not sent")),
                ("Backend address", report.address),
                ("Connection", f"{report.connection}, {user}"),
                (
                    "Round-trip time",
                    f"{report.rtt_ms:.1f} ms" if report.rtt_ms is not None else f"failed: {report.problem}",
                ),
            ]
        )
        self.dialog.set_streams(
            [(s.name, s.state, _age(s.last_message_age_s), str(s.reconnections)) for s in report.streams]
        )
