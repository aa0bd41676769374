"""The console's main window: composes the session, models, controllers and views."""

from __future__ import annotations

import time

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QPushButton, QSplitter, QVBoxLayout, QWidget

from app.auth import Credentials
from app.controllers.alarms import AlarmController
from app.controllers.audit import AuditController
from app.controllers.commands import CommandController
from app.controllers.detail import DetailController
from app.controllers.map_view import MapController
from app.controllers.mosaic import MosaicController
from app.models.asset_table import ID_ROLE, AssetTableModel
from app.models.asset_tree import FILTER_ROLE, AssetTreeModel
from app.session import Session
from app.theme import RESOURCES
from widgets.alarms.style import PRIORITY_COLORS
from widgets.assets.asset_panel import AssetPanel
from widgets.auth.login_dialog import LoginDialog
from widgets.detail.asset_detail import AssetDetailView
from widgets.map.map_view import MapView
from widgets.mosaic.panel import MosaicPanel
from widgets.status.connection import ConnectionIndicator
from widgets.status.palette import KIND_LABELS, STATUS_COLORS, STATUS_LABELS, STATUSES


def map_style() -> dict:
    """The map page draws with the same status colours and names as the rest of the console."""
    return {"status_colors": STATUS_COLORS, "status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS}


def panel(title: str, body: QWidget) -> QWidget:
    """A titled panel frame, the unit operators read the screen by."""
    frame = QWidget(objectName="panel")
    lay = QVBoxLayout(frame)
    lay.setContentsMargins(2, 2, 2, 2)
    lay.setSpacing(0)
    lay.addWidget(QLabel(title.upper(), objectName="panelTitle"))
    lay.addWidget(body, 1)
    return frame


class MainWindow(QMainWindow):
    sig_create_incident = Signal(float, float)  # for the incident feature: where the operator pointed

    def __init__(
        self,
        session: Session,
        title: str = "Dijon Métropole",
        remember_layout: bool = True,
        tiles: str | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.setWindowTitle(f"Vigie — {title} — {session.address}")
        self.resize(1600, 950)

        # Models fed by the session.
        self.assets = AssetTableModel(parent=self)
        self.tree = AssetTreeModel(self.assets, parent=self)
        session.sig_snapshot.connect(self.assets.reset)
        self.assets.sig_reset.connect(self._select_worst_if_none)
        session.sig_changes.connect(self.assets.queue_changes)

        # Views.
        self.asset_panel = AssetPanel(self.assets, self.tree, ID_ROLE, FILTER_ROLE)
        self.detail = AssetDetailView()
        self.cameras = MosaicPanel()
        self.map = MapView(RESOURCES / "map" / "index.html", map_style())

        # Controllers wire views to the session and models.
        self.detail_ctl = DetailController(session, self.assets, self.detail)
        self.mosaic_ctl = MosaicController(session, self.assets, self.cameras, persist=remember_layout)
        self.map_ctl = MapController(
            session, self.assets, self.map, tiles=tiles, remember_view=remember_layout
        )
        self.alarm_ctl = AlarmController(session, parent=self)
        self.alarm_ctl.sig_alarm_selected.connect(self._on_alarm_selected)
        self.assets.sig_reset.connect(
            lambda: self.alarm_ctl.panel.set_districts(sorted({d for _, d in self.assets.counts}))
        )
        self._no_fly = False  # set while a selection comes from the map itself (no need to fly)
        self.map_ctl.sig_select.connect(self._select_from_map)
        self.map_ctl.sig_show_in_mosaic.connect(self.mosaic_ctl.show_camera)
        self.map_ctl.sig_create_incident.connect(self._on_create_incident)
        self.asset_panel.sig_filter_text.connect(lambda t: self.assets.set_filter(text=t))
        self.asset_panel.sig_scope.connect(lambda k, d: self.assets.set_filter(kind=k, district=d))
        self.asset_panel.sig_asset_selected.connect(self._on_selected)
        self.asset_panel.sig_asset_activated.connect(self._on_activated)

        # Commands, login and the audit trail.
        self.command_ctl = CommandController(session, self.assets, self)
        self.detail.sig_command_requested.connect(
            lambda: self.command_ctl.open_for([self.detail_ctl.asset_id], self)
        )
        self.asset_panel.sig_command_requested.connect(lambda ids: self.command_ctl.open_for(ids, self))
        self.map_ctl.sig_command.connect(lambda ids: self.command_ctl.open_for(ids, self))
        self.audit_ctl: AuditController | None = None
        self.audit_window: QWidget | None = None
        self.login_dialog: LoginDialog | None = None
        session.sig_logged_in.connect(self._on_logged_in)
        session.sig_login_required.connect(self._on_login_required)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(panel("Asset detail", self.detail))
        right.addWidget(panel("Cameras", self.cameras))
        right.setSizes([480, 470])
        centre = QSplitter(Qt.Orientation.Horizontal)
        centre.addWidget(panel("Assets", self.asset_panel))
        middle = QSplitter(Qt.Orientation.Vertical)
        middle.addWidget(panel("City map", self.map))
        middle.addWidget(panel("Alarms", self.alarm_ctl.panel))
        middle.setSizes([560, 400])
        centre.addWidget(middle)
        centre.addWidget(right)
        centre.setSizes([500, 840, 580])
        self.splitter = centre

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self._header(title))
        inner = QWidget()
        il = QVBoxLayout(inner)
        il.setContentsMargins(6, 6, 6, 6)
        il.addWidget(centre)
        lay.addWidget(inner, 1)
        self.setCentralWidget(body)

        # Status bar: connection, counts per status, revision.
        self.connection = ConnectionIndicator()
        self.counts = QLabel()
        self.revision = QLabel()
        self.revision.setStyleSheet("color: #8b949e; padding: 0 8px;")
        sb = self.statusBar()
        sb.addWidget(self.connection)
        self.alarm_counts = QLabel()
        sb.addPermanentWidget(self.alarm_counts)
        sb.addPermanentWidget(self.counts)
        sb.addPermanentWidget(self.revision)
        session.sig_connection.connect(self.connection.set_state)
        session.sig_error.connect(lambda msg: sb.showMessage(msg, 8000))
        self.mosaic_ctl.sig_message.connect(lambda msg: sb.showMessage(msg, 8000))
        self.command_ctl.sig_message.connect(lambda msg: sb.showMessage(msg, 10000))
        self.alarm_ctl.sig_message.connect(lambda msg: sb.showMessage(msg, 8000))
        self.alarm_ctl.sig_counts.connect(self._update_alarm_counts)
        self._update_alarm_counts({"p1": 0, "p2": 0, "p3": 0, "p4": 0, "unack": 0, "shelved": 0})
        self.assets.sig_counts_changed.connect(self._update_counts)
        self._update_counts()
        self.remember_layout = remember_layout  # off for screenshots: same picture every time
        if remember_layout:
            self._restore()

    def _header(self, title: str) -> QWidget:
        head = QWidget(objectName="header")
        head.setFixedHeight(44)
        lay = QHBoxLayout(head)
        lay.setContentsMargins(8, 0, 8, 0)
        lay.addWidget(QLabel("VIGIE", objectName="appTitle"))
        lay.addWidget(QLabel(f"{title} · connected control station", objectName="appSubtitle"))
        lay.addStretch(1)
        self.audit_button = QPushButton("Audit trail")
        self.audit_button.setToolTip("Who did what, when and why (supervisors)")
        self.audit_button.clicked.connect(self.show_audit)
        self.audit_button.hide()
        lay.addWidget(self.audit_button)
        self.user_badge = QLabel("not logged in", objectName="userBadge")
        lay.addWidget(self.user_badge)
        self.switch_user = QPushButton("Switch user")
        self.switch_user.clicked.connect(lambda: self._on_login_required("Log in as another user."))
        lay.addWidget(self.switch_user)
        self.clock = QLabel(objectName="clock")
        lay.addWidget(self.clock)
        self._clock_timer = QTimer(self, interval=1000)
        self._clock_timer.timeout.connect(self._tick)
        self._clock_timer.start()
        self._tick()
        return head

    def _tick(self) -> None:
        self.clock.setText(time.strftime("%a %d %b  %H:%M:%S"))

    def _update_counts(self) -> None:
        totals = dict.fromkeys(STATUSES, 0)
        for per_status in self.assets.counts.values():
            for s, n in per_status.items():
                totals[s] = totals.get(s, 0) + n
        parts = [
            f"<span style='color:{STATUS_COLORS[s]}'>{STATUS_LABELS[s]} <b>{totals[s]:,}</b></span>".replace(
                ",", " "
            )
            for s in STATUSES
        ]
        self.counts.setText("&nbsp;&nbsp;&nbsp;".join(parts))
        self.revision.setText(f"rev {self.assets.revision}")

    # ---- login and audit ---------------------------------------------------------------------

    def _on_logged_in(self, user: str, role: str) -> None:
        self.user_badge.setText(f"● {user} · {role}")
        self.user_badge.setToolTip(f"Logged in as {user} with the {role} role")
        self.audit_button.setVisible(self.session.may("SUPERVISOR"))
        if self.login_dialog is not None:
            self.login_dialog.hide()
        self.statusBar().showMessage(f"Logged in as {user} ({role})", 5000)

    def _on_login_required(self, reason: str) -> None:
        self.user_badge.setText("not logged in")
        self.audit_button.hide()
        if self.login_dialog is None:
            user = self.session.credentials.user if self.session.credentials else ""
            self.login_dialog = LoginDialog(self.session.address, user, self)
            self.login_dialog.sig_login.connect(
                lambda u, p: self.session.login(
                    Credentials(u, p, self.session.credentials.console if self.session.credentials else "")
                )
            )
        self.login_dialog.ask(reason)

    def show_audit(self) -> None:
        """The audit trail in its own window (supervisors read it beside the live console)."""
        if self.audit_ctl is None:
            self.audit_ctl = AuditController(self.session, self)
            self.audit_ctl.sig_message.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
            win = QWidget(self, Qt.WindowType.Window)
            win.setWindowTitle("Vigie — audit trail")
            win.resize(1300, 700)
            lay = QVBoxLayout(win)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(panel("Audit trail", self.audit_ctl.view))
            self.audit_window = win
        assert self.audit_window is not None
        self.audit_window.show()
        self.audit_window.raise_()
        self.audit_ctl.query()

    def _select_worst_if_none(self) -> None:
        """On a fresh console, open the detail of the asset in the worst state (the table's first row)."""
        if not self.asset_panel.selected_ids() and self.assets.rowCount():
            self._no_fly = True  # the operator did not ask: keep the map on the whole city
            try:
                self.asset_panel.select_row(0)
            finally:
                self._no_fly = False

    def _on_selected(self, asset_id: str) -> None:
        """One selection for the whole console: table, detail and map."""
        self.detail.commandable = bool(
            asset_id and self.command_ctl.fitting([asset_id])
        ) and self.session.may("OPERATOR")
        self.detail_ctl.select(asset_id)
        self.map_ctl.select(asset_id, fly=not self._no_fly)

    def _select_from_map(self, asset_id: str) -> None:
        self._no_fly = True
        try:
            row = self.assets.row_of(asset_id)
            if row >= 0:
                self.asset_panel.select_row(row)
            else:  # filtered out of the table: still show it
                self._on_selected(asset_id)
        finally:
            self._no_fly = False

    def _update_alarm_counts(self, c: dict) -> None:
        parts = [
            f"<span style='color:{PRIORITY_COLORS[p]}'>P{p} <b>{c[f'p{p}']}</b></span>" for p in (1, 2, 3, 4)
        ]
        unack = f"<b style='color:#f85149'>{c['unack']} unack</b>" if c["unack"] else "0 unack"
        self.alarm_counts.setText(
            "ALARMS&nbsp;&nbsp;" + "&nbsp;&nbsp;".join(parts) + f"&nbsp;&nbsp;{unack}&nbsp;&nbsp;"
            f"<span style='color:#8b949e'>{c['shelved']} shelved</span>&nbsp;&nbsp;&nbsp;│&nbsp;&nbsp;"
        )

    def _on_alarm_selected(self, alarm) -> None:  # noqa: ANN001 - AlarmRecord
        """Alarm-to-map and alarm-to-video in one click."""
        self.map_ctl.select(alarm.asset_id, fly=True)
        self.mosaic_ctl.show_linked(alarm.camera_ids)
        self.detail_ctl.select(alarm.asset_id)

    def _on_create_incident(self, lat: float, lon: float) -> None:
        self.statusBar().showMessage(f"New incident at {lat:.5f} N, {lon:.5f} E", 8000)
        self.sig_create_incident.emit(lat, lon)

    def _on_activated(self, asset_id: str) -> None:
        rec = self.assets.record(asset_id)
        if rec is not None and rec.kind == "camera":
            self.mosaic_ctl.show_camera(asset_id)

    def _restore(self) -> None:
        s = QSettings()
        geo = s.value("main/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        state = s.value("main/splitter")
        if state is not None:
            self.splitter.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.remember_layout:
            s = QSettings()
            s.setValue("main/geometry", self.saveGeometry())
            s.setValue("main/splitter", self.splitter.saveState())
        self.mosaic_ctl.stop()
        super().closeEvent(event)
