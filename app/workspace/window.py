"""A console window: the header (title, screen role, menus, clock), the docks of its screen (a QtAds
dock manager), and the status bar. The primary window's status bar carries the city-wide counts; every
window shows the connection, so no screen ever shows stale data as live."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import PySide6QtAds as ads
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenuBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from vigie.app import city_time
from vigie.app.console import Console
from vigie.app.controllers.mode_banner import attach_banner
from vigie.app.theme import dock_stylesheet
from vigie.widgets.alarms.style import PRIORITY_COLORS
from vigie.widgets.status.connection import ConnectionIndicator
from vigie.widgets.status.connection_banner import ConnectionBanner
from vigie.widgets.status.elided_label import ElidedLabel
from vigie.widgets.status.palette import STATUS_COLORS, STATUS_LABELS, STATUSES

W = TypeVar("W", bound=QWidget)


def _named(w: W, name: str) -> W:
    """`w` with its object name (the style sheet's handle), typed as it is."""
    w.setObjectName(name)
    return w


def configure_docking() -> None:
    """QtAds options, global to the process: set once before the first dock manager exists."""
    flags = ads.CDockManager.eConfigFlag
    ads.CDockManager.setConfigFlags(ads.CDockManager.eConfigFlag.DefaultOpaqueConfig)
    for flag, on in (
        (flags.AlwaysShowTabs, True),  # every panel has its tab: the handle to drag it anywhere
        (flags.FocusHighlighting, True),
        (flags.EqualSplitOnInsertion, True),
        (flags.DockAreaHasCloseButton, False),  # panels close one at a time, from their tab
        (flags.DockAreaHasUndockButton, True),
        (flags.ActiveTabHasCloseButton, True),
    ):
        ads.CDockManager.setConfigFlag(flag, on)


def status_counts_html(counts: dict[tuple[str, str], dict[str, int]]) -> str:
    totals = dict.fromkeys(STATUSES, 0)
    for per_status in counts.values():
        for s, n in per_status.items():
            totals[s] = totals.get(s, 0) + n
    parts = [
        f"<span style='color:{STATUS_COLORS[s]}'>{STATUS_LABELS[s]} <b>{totals[s]:,}</b></span>".replace(
            ",", " "
        )
        for s in STATUSES
    ]
    return "&nbsp;&nbsp;&nbsp;".join(parts)


def alarm_counts_html(c: dict) -> str:
    parts = [
        f"<span style='color:{PRIORITY_COLORS[p]}'>P{p} <b>{c[f'p{p}']}</b></span>" for p in (1, 2, 3, 4)
    ]
    unack = f"<b style='color:#f85149'>{c['unack']} unack</b>" if c["unack"] else "0 unack"
    return (
        "ALARMS&nbsp;&nbsp;" + "&nbsp;&nbsp;".join(parts) + f"&nbsp;&nbsp;{unack}&nbsp;&nbsp;"
        f"<span style='color:#8b949e'>{c['shelved']} shelved</span>&nbsp;&nbsp;&nbsp;│&nbsp;&nbsp;"
    )


class ScreenWindow(QMainWindow):
    sig_close_requested = Signal()  # the manager decides: the primary closes the console, others hide

    def __init__(self, console: Console, role: str, primary: bool) -> None:
        super().__init__()
        self.console, self.role, self.primary = console, role, primary
        self.setObjectName(f"window-{role}")
        self.setWindowTitle(f"Vigie — {console.title} — {role} — {console.session.address}")
        self.closing = False  # set by the manager when the console really closes
        # Several screens, one active window: a tile's stats and a marker's name still show on
        # hover over a wall or side screen the operator has not clicked into.
        self.setAttribute(Qt.WidgetAttribute.WA_AlwaysShowToolTips)

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self._header())
        # A lost server: a full-width banner on every window (app/controllers/connection.py).
        self.link_banner = ConnectionBanner()
        lay.addWidget(self.link_banner)
        link = console.link
        link.sig_lost.connect(self._on_link_lost)
        link.sig_retry.connect(self.link_banner.set_retry)
        link.sig_restored.connect(self.link_banner.clear)
        if not link.live:
            self._on_link_lost(link.lost_since)
        self.mode_status = _named(QLabel(), "modeStatus")  # the active modes, in the status bar
        self.mode_banner = attach_banner(console.session.active_modes, 14.0, self.mode_status)
        lay.addWidget(self.mode_banner)
        inner = _named(QWidget(), "dockHost")
        il = QVBoxLayout(inner)
        il.setContentsMargins(4, 4, 4, 4)
        self.docks = ads.CDockManager(inner)
        self.docks.setStyleSheet(dock_stylesheet())
        il.addWidget(self.docks)
        lay.addWidget(inner, 1)
        self.setCentralWidget(body)
        console.shortcuts.attach(self)  # the application-wide keys work in this window too

        # Status bar: the connection and the alarm counts on every screen; the city-wide status
        # counts, the revision and the console's messages on the primary window.
        sb = self.statusBar()
        sb.addWidget(self.mode_status)
        self.alarm_counts = QLabel()
        sb.addPermanentWidget(self.alarm_counts)
        console.alarm_ctl.sig_counts.connect(self._update_alarm_counts)
        self._update_alarm_counts(console.alarm_ctl.store.counts())
        if primary:
            self.counts = QLabel()
            self.revision = QLabel()
            self.revision.setStyleSheet("color: #8b949e; padding: 0 8px;")
            sb.addPermanentWidget(self.counts)
            sb.addPermanentWidget(self.revision)
            console.sig_message.connect(self._show_message)  # a method: disconnected with the window
            console.assets.sig_counts_changed.connect(self._update_counts)
            self._update_counts()

    def _header(self) -> QWidget:
        head = _named(QWidget(), "header")
        head.setFixedHeight(44)
        lay = QHBoxLayout(head)
        lay.setContentsMargins(8, 0, 8, 0)
        lay.addWidget(_named(QLabel("VIGIE"), "appTitle"))
        subtitle = _named(QLabel(f"{self.console.title} · connected control station"), "appSubtitle")
        # The subtitle gives way first on a narrow screen: the connection and clock must stay.
        subtitle.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        subtitle.setMinimumWidth(0)
        lay.addWidget(subtitle, 1)
        self.role_label = _named(QLabel(self.role.upper()), "screenRole")
        self.role_label.setToolTip("This window's screen role in the workspace")
        self.role_label.setFixedHeight(24)
        lay.addWidget(self.role_label, 0, Qt.AlignmentFlag.AlignVCenter)
        self.menus = _named(QMenuBar(), "headerMenus")
        self.menus.setNativeMenuBar(False)
        # A menu bar wants its whole width (MinimumExpanding): on a 1366 px laptop that pushed the
        # window past the screen. It folds its last menus into a ">>" button instead.
        self.menus.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        lay.addWidget(self.menus, 0, Qt.AlignmentFlag.AlignVCenter)
        lay.addStretch(1)
        # Who is logged in, on every screen; the audit trail for those who may read it.
        self.audit_button = QPushButton("Audit trail")
        self.audit_button.setToolTip("Who did what, when and why (supervisors)")
        self.audit_button.clicked.connect(lambda: self.console.sig_show_panel.emit("audit"))
        lay.addWidget(self.audit_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.modes_button = QPushButton("City modes")
        self.modes_button.setToolTip("Put the city or some districts into a mode; return to normal")
        self.modes_button.clicked.connect(lambda: self.console.sig_show_panel.emit("modes"))
        lay.addWidget(self.modes_button, 0, Qt.AlignmentFlag.AlignVCenter)
        # Elided rather than widening the window on a laptop (the tooltip has it all).
        self.user_badge = ElidedLabel("userBadge", QSizePolicy.Policy.Preferred, minimum=110)
        lay.addWidget(self.user_badge)
        self.switch_user = QPushButton("Switch user")
        self.switch_user.clicked.connect(lambda: self.console.ask_login("Log in as another user."))
        lay.addWidget(self.switch_user, 0, Qt.AlignmentFlag.AlignVCenter)
        self.console.sig_user.connect(self._on_user)
        s = self.console.session
        self._on_user(s.user if s.role else "", s.role)
        # The connection, in a fixed place: status-bar messages come and go, this stays.
        self.connection = ConnectionIndicator()
        self.connection.set_state(self.console.session.state, self.console.session.address, 0.0)
        self.console.session.sig_connection.connect(self.connection.set_state)
        lay.addWidget(self.connection)
        self.clock = _named(QLabel(), "clock")
        lay.addWidget(self.clock)
        self._clock_timer = QTimer(self, interval=1000)
        self._clock_timer.timeout.connect(self._tick)
        self._clock_timer.start()
        self._tick()
        return head

    def _on_link_lost(self, since: float) -> None:
        self.link_banner.show_lost(city_time.strftime("%H:%M:%S", since))

    def _on_user(self, user: str, role: str) -> None:
        self.user_badge.setText(f"● {user} · {role}" if user else "not logged in")
        self.user_badge.setToolTip(f"Logged in as {user} with the {role} role" if user else "")
        self.audit_button.setVisible(self.console.session.may("SUPERVISOR"))

    def _show_message(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def _tick(self) -> None:
        # The zone's name beside the time: a control room compares it with cameras' burned-in times.
        now = datetime.now(city_time.zone())
        self.clock.setText(f"{city_time.strftime('%a %d %b %H:%M:%S', now.timestamp())} {now.tzname()}")
        self.clock.setToolTip(f"City time: {city_time.zone().key} (UTC{now.strftime('%z')})")

    def _update_counts(self) -> None:
        self.counts.setText(status_counts_html(self.console.assets.counts))
        self.revision.setText(f"rev {self.console.assets.revision}")

    def _update_alarm_counts(self, c: dict) -> None:
        html = alarm_counts_html(c)
        self.alarm_counts.setText(html if self.primary else html.rsplit("&nbsp;&nbsp;&nbsp;│", 1)[0])

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.closing:
            super().closeEvent(event)
            return
        event.ignore()
        self.sig_close_requested.emit()
