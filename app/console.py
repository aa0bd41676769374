"""The console's parts that exist once, whatever the windows: the session's models, the controllers of
the single panels (assets, detail, alarms), the map and mosaics the panels register, and the routes
between them (one selection everywhere, alarm -> map + detail + video, "show in mosaic").

Windows and docks are the workspace manager's business (app/workspace); panels plug in here through
attach_map()/attach_mosaic() so a route never cares where, or whether, a panel is shown.
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QWidget

from vigie.app import city_time
from vigie.app.auth import Credentials
from vigie.app.client.session import Session
from vigie.app.controllers.alarms import AlarmController
from vigie.app.controllers.audit import AuditController
from vigie.app.controllers.commands import CommandController
from vigie.app.controllers.connection import ConnectionWatch
from vigie.app.controllers.detail import DetailController
from vigie.app.controllers.dispatch import DispatchController
from vigie.app.controllers.map_view import MapController
from vigie.app.controllers.mosaic import MosaicController
from vigie.app.controllers.mosaic_keys import MosaicKeys
from vigie.app.controllers.wall import WallController
from vigie.app.models.asset_table import ID_ROLE, AssetTableModel
from vigie.app.models.asset_tree import FILTER_ROLE, AssetTreeModel
from vigie.app.models.assets import AssetStore
from vigie.app.models.records import CameraInfo
from vigie.app.shortcuts import ShortcutRegistry
from vigie.app.wall.content import WallContent
from vigie.widgets.assets.asset_panel import AssetPanel
from vigie.widgets.auth.login_dialog import LoginDialog
from vigie.widgets.detail.asset_detail import AssetDetailView
from vigie.widgets.map.map_view import MapView
from vigie.widgets.mosaic.panel import MosaicPanel
from vigie.widgets.mosaic.tile import VideoTile
from vigie.widgets.status.palette import STATUS_LABELS, STATUSES
from vigie.widgets.status.stale_overlay import StaleOverlay


class Console(QObject):
    sig_message = Signal(str)  # for the status bar
    sig_create_incident = Signal(float, float)  # for the incident feature: where the operator pointed
    sig_user = Signal(str, str)  # who is logged in: user, role ("", "" when nobody)
    sig_show_panel = Signal(str)  # a panel kind the operator asked for (the workspace shows it)
    sig_show_widget = Signal(object)  # a panel's widget to bring into view (one of several mosaics)

    def __init__(
        self,
        session: Session,
        title: str = "Dijon Métropole",
        tiles: str | None = None,
        max_fps: float = 12.0,
    ) -> None:
        """`tiles`: the basemap given on the command line; `max_fps`: what each mosaic tile asks for."""
        super().__init__()
        self.session, self.title, self.tiles = session, title, tiles
        self.max_fps = max_fps

        # Models fed by the session: one asset store, which the table, tree, map, mosaics and
        # detail follow (each on the store's tick, none waiting on another).
        self.store = AssetStore(parent=self)
        session.assets.sig_snapshot.connect(self.store.reset)
        session.assets.sig_changes.connect(self.store.queue_changes)
        self.assets = AssetTableModel(parent=self, store=self.store)
        self.tree = AssetTreeModel(self.store, parent=self)
        self.assets.sig_reset.connect(self._select_worst_if_none)
        self.camera_info: dict[str, CameraInfo] = {}
        session.video.sig_cameras.connect(self._on_cameras)
        self.store.sig_reset.connect(session.video.request_cameras)  # once for every mosaic

        # The single panels: views and their controllers.
        self.asset_panel = AssetPanel(
            self.assets, self.tree, ID_ROLE, FILTER_ROLE, statuses=STATUSES, status_labels=STATUS_LABELS
        )
        self.detail = AssetDetailView()
        self.detail_ctl = DetailController(session, self.store, self.detail, self._may_command)
        self.alarm_ctl = AlarmController(session, parent=self)
        self.alarm_ctl.sig_alarm_selected.connect(self._on_alarm_selected)
        self.alarm_ctl.sig_message.connect(self.sig_message)
        self.assets.sig_reset.connect(self._districts_changed)
        ap = self.asset_panel
        ap.sig_filter_text.connect(lambda t: self._filter_assets(text=t))
        ap.sig_scope.connect(lambda k, d: self._filter_assets(kind=k, district=d))
        ap.sig_statuses.connect(lambda st: self._filter_assets(statuses=st))
        ap.sig_clear_filters.connect(
            lambda: self._filter_assets(text="", kind=None, district=None, statuses=frozenset())
        )
        ap.sig_grouping.connect(self.tree.set_grouping)
        ap.sig_pointer_over_table.connect(self.assets.hold)  # rows keep still under the mouse
        ap.sig_table_shown.connect(self.assets.set_shown)  # no row placing for a hidden table
        self.asset_panel.sig_asset_selected.connect(self._on_selected)
        self.asset_panel.sig_asset_activated.connect(self._on_activated)
        session.core.sig_error.connect(self.sig_message)

        # Commands to devices: from the detail view, the asset table and the map (attach_map).
        self.command_ctl = CommandController(session, self.store, self)
        self.command_ctl.sig_message.connect(self.sig_message)
        self.command_ctl.sig_actions_changed.connect(self.detail_ctl.refresh)
        self.detail.sig_command_requested.connect(lambda: self.open_command([self.detail_ctl.asset_id]))
        self.asset_panel.sig_command_requested.connect(self.open_command)

        # Who is logged in; the audit trail (a panel for supervisors); the video walls.
        self.login_dialog: LoginDialog | None = None
        session.core.sig_logged_in.connect(self._on_logged_in)
        session.core.sig_login_required.connect(self._on_login_required)
        self.audit_ctl = AuditController(session, self)
        self.audit_ctl.sig_message.connect(self.sig_message)
        self.wall_ctl = WallController(session, assets=self.store, parent=self)
        self.wall_ctl.sig_message.connect(self.sig_message)
        self.wall_ctl.attach_to(alarm_panel=self.alarm_ctl.panel, alarm_lookup=self._alarm)

        # Dispatch: incidents and units (app/controllers/dispatch.py); its panels register in
        # app/workspace/panels.py, its map layer reaches every map (make_map).
        self.dispatch_ctl = DispatchController(session, self.store, parent=self)
        d = self.dispatch_ctl
        d.sig_message.connect(self.sig_message)
        d.sig_cameras.connect(self._show_incident_cameras)
        d.sig_focus.connect(lambda iid, lat, lon: self.map_ctl and self.map_ctl.focus_incident(iid, lat, lon))
        d.sig_send_to_wall.connect(self._incident_to_wall)
        d.sig_types.connect(lambda types: self.map_ctl and self.map_ctl.set_incident_types(types))
        d.place_for_new = self._place_for_new
        d.alarm_name = self._alarm_name
        self.alarm_ctl.sig_create_incident.connect(d.create_from_alarm)
        self.wall_ctl.sig_walls.connect(
            lambda walls: d.detail.set_walls([w.name for w in walls], {w.name for w in walls if not w.online})
        )

        # A lost server is unmistakable: every data panel greyed with its data's age, actions off
        # with the reason, tiles say so; the windows add their banner (app/workspace/window.py).
        self.link = ConnectionWatch(session, parent=self)
        self._overlays: list[StaleOverlay] = []
        self.link.sig_lost.connect(self._on_link_lost)
        self.link.sig_restored.connect(self._on_link_restored)
        self.dispatch_ctl.set_link(self.link)
        for panel in (self.asset_panel, self.detail, self.alarm_ctl.panel):
            self.watch_staleness(panel)

        # The keyboard: every main action application-wide (app/shortcuts.py); each console window
        # attaches the registry (app/workspace/window.py).
        self.shortcuts = ShortcutRegistry(parent=self)
        self._bind_keys()

        # Panels that register themselves (app/workspace/panels.py).
        self.map_ctl: MapController | None = None
        self.mosaic_ctls: list[MosaicController] = []  # operated mosaics, in creation order
        self._every_mosaic: list[MosaicController] = []  # with the walls' (no camera shown twice on a fill)
        self._active_mosaic: MosaicController | None = None
        self.alarm_video_ctl: MosaicController | None = None  # the alarm preview, once made (panels.py)
        self._no_fly = False  # set while a selection comes from the map itself (no need to fly)

    def _bind_keys(self) -> None:
        panel = self.alarm_ctl.panel
        panel.drop_own_keys()
        self.asset_panel.drop_own_keys()
        keys = self.shortcuts
        for name, slot in (
            ("alarm.next", lambda: panel.step(1)),
            ("alarm.previous", lambda: panel.step(-1)),
            ("alarm.shelve", panel.shelve_selected),
            ("alarm.focus", lambda: panel.step(0)),
            ("search.focus", self.asset_panel.focus_search),
            ("filters.clear", self.asset_panel.clear_all_filters),
            ("help.shortcuts", self.show_shortcuts),
            ("settings.shortcuts", self.show_shortcuts),
        ):
            keys.action(name).triggered.connect(slot)
        keys.action("alarm.incident").triggered.connect(panel.create_incident)
        self.mosaic_keys = MosaicKeys(self, keys)  # tile actions: full screen, layouts, tiles, PTZ, wall
        keys.bind("alarm.acknowledge", panel, panel.acknowledge)

    def _districts_changed(self) -> None:
        """The alarm panel's district filter follows the city's districts. The table's sliced
        reset (app/models/asset_table.py) can end after the panel is gone (a closed console, a
        rebuilt workspace): then there is nothing to update."""
        panel = self.alarm_ctl.panel
        if shiboken6.isValid(panel):
            panel.set_districts(sorted({d for _, d in self.store.counts}))

    def _filter_assets(self, **kw: Any) -> None:
        self.assets.set_filter(**kw)
        self.asset_panel.show_filters(self.assets.active_filters())

    # ---- a lost server ---------------------------------------------------------------------------

    def watch_staleness(self, panel: QWidget) -> StaleOverlay:
        """Grey `panel` with its data's age whenever the server is lost (now, if it is)."""
        overlay = StaleOverlay(panel)
        self._overlays.append(overlay)
        overlay.destroyed.connect(
            lambda _=None, o=overlay: self._overlays.remove(o) if o in self._overlays else None
        )
        if not self.link.live:
            overlay.set_stale(self.link.lost_since, self._since_text())
        return overlay

    def _since_text(self) -> str:
        return city_time.strftime("%H:%M:%S", self.link.lost_since)

    def _on_link_lost(self, since: float) -> None:
        for overlay in list(self._overlays):
            overlay.set_stale(since, self._since_text())
        VideoTile.server_unreachable = True
        self._repaint_tiles()
        self.alarm_ctl.panel.set_link(False, self._since_text())
        self._update_actions()

    def _on_link_restored(self) -> None:
        for overlay in list(self._overlays):
            overlay.set_live()
        VideoTile.server_unreachable = False
        self._repaint_tiles()
        self.alarm_ctl.panel.set_link(True)
        self._update_actions()

    def _repaint_tiles(self) -> None:
        for ctl in self._every_mosaic:
            for tile in ctl.mosaic.tiles:
                tile.update()

    def _update_actions(self) -> None:
        """Alarm and device actions: for a role that may, while the server is reachable; the
        reason in each disabled control's tooltip."""
        role_ok = self.session.may("OPERATOR")
        if not self.link.live:
            allowed, why = False, self.link.reason()
        else:
            allowed, why = role_ok, f"Handling alarms needs the OPERATOR role — you are {self.session.role}"
        self.alarm_ctl.panel.set_actions_allowed(allowed, why)
        self.detail_ctl.refresh()

    def show_shortcuts(self) -> None:
        """F1: every shortcut, and where to change one (not modal)."""
        self.shortcuts.show_dialog(QApplication.activeWindow())

    # ---- panels plugging in ----------------------------------------------------------------------

    def attach_map(self, ctl: MapController) -> None:
        self.map_ctl = ctl
        ctl.sig_select.connect(self._select_from_map)
        ctl.sig_show_in_mosaic.connect(self.show_camera)
        ctl.sig_create_incident.connect(self._on_create_incident)
        ctl.sig_command.connect(self.open_command)
        self.wall_ctl.attach_to(map_view=ctl.view)
        ctl.sig_create_incident_type.connect(
            lambda lat, lon, code: self.dispatch_ctl.create_at(lat, lon, code)
        )
        ctl.sig_incident_clicked.connect(self.dispatch_ctl.select)
        ctl.set_incident_types(self.dispatch_ctl.types)
        self.watch_staleness(ctl.view)

    def detach_map(self, ctl: MapController) -> None:
        if self.map_ctl is ctl:
            self.map_ctl = None

    def new_mosaic(
        self,
        panel: MosaicPanel,
        stream_prefix: str,
        view: dict | None,
        operated: bool = True,
        alarm_preview: bool = False,
    ) -> MosaicController:
        """A mosaic controller for `panel`, filled with cameras no other mosaic shows. An operated
        mosaic takes part in the routes (alarm video, "show in mosaic"); a wall's does not."""
        ctl = MosaicController(
            self.session,
            self.store,
            panel,
            max_fps=self.max_fps,
            persist=False,
            stream_prefix=stream_prefix,
            initial_view=view,
            exclude=lambda: self._cameras_shown(ctl),
            request_cameras=False,
            alarm_preview=alarm_preview,
        )
        ctl.sig_message.connect(self.sig_message)
        self.watch_staleness(panel)
        self._every_mosaic.append(ctl)
        if operated:
            self.wall_ctl.attach_to(mosaic_panel=panel)
            self.mosaic_ctls.append(ctl)
            panel.mosaic.sig_selected.connect(lambda _slot: self._activate(ctl))
            if self._active_mosaic is None:
                self._active_mosaic = ctl
        if self.camera_info:
            ctl.set_cameras(self.camera_info)
        return ctl

    def drop_mosaic(self, ctl: MosaicController) -> None:
        ctl.stop()
        if ctl in self._every_mosaic:
            self._every_mosaic.remove(ctl)
        if ctl in self.mosaic_ctls:
            self.mosaic_ctls.remove(ctl)
        if self._active_mosaic is ctl:
            self._active_mosaic = self.mosaic_ctls[0] if self.mosaic_ctls else None

    def _activate(self, ctl: MosaicController) -> None:
        self._active_mosaic = ctl

    def _cameras_shown(self, asking: MosaicController) -> set[str]:
        return {c for ctl in self._every_mosaic if ctl is not asking for c in ctl.mosaic.cameras if c}

    def _on_cameras(self, cameras: dict[str, CameraInfo]) -> None:
        self.camera_info = cameras

    # ---- what tests and the other features reach -------------------------------------------------

    @property
    def mosaic_ctl(self) -> MosaicController | None:
        """The mosaic that gets alarm video and "show in mosaic": the last one the operator used."""
        return self._active_mosaic

    @property
    def cameras(self) -> MosaicPanel | None:
        return self._active_mosaic.panel if self._active_mosaic else None

    @property
    def map(self) -> MapView | None:
        return self.map_ctl.view if self.map_ctl else None

    def stop(self) -> None:
        """Stop every video stream and decoder (before the session stops)."""
        for ctl in list(self._every_mosaic):
            ctl.stop()
        self.store.stop()
        self.assets.stop()  # a sliced reset must not reach the views after they are gone
        self.command_ctl.close_dialogs()

    # ---- routes ----------------------------------------------------------------------------------

    def _select_worst_if_none(self) -> None:
        """On a fresh console, open the detail of the asset in the worst state (the table's first row)."""
        if self.alarm_ctl.selected is not None:
            return  # the operator is on an alarm: its asset is in the detail already
        if not shiboken6.isValid(self.asset_panel.table):
            return  # a sliced reset that ended after the panel was gone (see _districts_changed)
        if self.detail_ctl.asset_id:
            return  # something is shown already (chosen while the table was still ordering rows)
        if not self.asset_panel.selected_ids() and self.assets.rowCount():
            self._no_fly = True  # the operator did not ask: keep the map on the whole city
            try:
                self.asset_panel.select_row(0)
            finally:
                self._no_fly = False

    def _on_selected(self, asset_id: str) -> None:
        """One selection for the whole console: table, detail and map. A table that merely lost its
        current row (a reset, a filter) changes nothing: detail and map follow real selections."""
        if not asset_id:
            return
        self.detail_ctl.select(asset_id)
        if self.map_ctl:
            self.map_ctl.select(asset_id, fly=not self._no_fly)
            self.map_ctl.show_alarm(None)  # an asset, not an alarm, is selected now

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

    def _on_alarm_selected(self, alarm) -> None:  # AlarmRecord
        """Alarm-to-map and alarm-to-video in one click."""
        if self.map_ctl:
            self.map_ctl.select(alarm.asset_id, fly=True)
            self.map_ctl.show_alarm(alarm)
        self.show_alarm_video(
            list(alarm.camera_ids), f"Alarm video · P{alarm.priority} {alarm.message} — {alarm.asset_name}"
        )
        self.detail_ctl.select(alarm.asset_id)

    def show_alarm_video(self, camera_ids: list[str], caption: str = "") -> None:
        """An alarm's cameras go to the alarm preview (brought into view, made if the workspace
        has none); the operator's own mosaics keep their views and mark the tiles showing them."""
        if camera_ids:
            self.sig_show_panel.emit("alarm-video")  # the workspace makes or raises it
        for ctl in self.mosaic_ctls:
            ctl.preview_alarm(camera_ids)
        if self.alarm_video_ctl is not None:
            self.alarm_video_ctl.preview_alarm(camera_ids, caption)
        if not camera_ids:
            self.sig_message.emit("No camera covers this alarm")

    def show_camera(self, camera_id: str) -> None:
        """A camera asked for by name (a double-click in the table): into the active mosaic, which
        comes into view (it often shares its place with the alarm video)."""
        if self.mosaic_ctl:
            self.mosaic_ctl.show_camera(camera_id)
            self.sig_show_widget.emit(self.mosaic_ctl.panel)
        else:
            self.sig_message.emit("No mosaic is open: Panels ▸ Add a mosaic")

    def show_on_map(self, asset_id: str) -> None:
        """A tile's "Show on map": the map (brought into view) flies to the camera."""
        self.sig_show_panel.emit("map")
        if self.map_ctl:
            self.map_ctl.select(asset_id, fly=True)
        self.detail_ctl.select(asset_id)

    def show_details(self, asset_id: str) -> None:
        """A tile's "Details": the asset detail (brought into view) shows the camera."""
        self.sig_show_panel.emit("detail")
        self.detail_ctl.select(asset_id)

    def _on_create_incident(self, lat: float, lon: float) -> None:
        self.sig_message.emit(f"New incident at {lat:.5f} N, {lon:.5f} E")
        self.sig_create_incident.emit(lat, lon)
        self.dispatch_ctl.create_at(lat, lon)

    # ---- dispatch routes -------------------------------------------------------------------------

    def _show_incident_cameras(self, camera_ids: list[str]) -> None:
        if self.mosaic_ctl:
            self.mosaic_ctl.show_linked(camera_ids)
        else:
            self.sig_message.emit("No mosaic is open: Panels ▸ Add a mosaic")

    def _place_for_new(self) -> tuple[float, float] | None:
        """Where "New incident" goes: the selected asset, else the map's centre."""
        rec = self.store.record(self.detail_ctl.asset_id) if self.detail_ctl.asset_id else None
        if rec is not None:
            return rec.lat, rec.lon
        view = self.map_ctl.current_view if self.map_ctl else None
        return (view["lat"], view["lon"]) if view else None

    def _alarm_name(self, alarm_id: str) -> str:
        a = self._alarm(alarm_id)
        return f"P{a.priority} {a.message} ({a.asset_name})" if a else alarm_id

    def _incident_to_wall(self, wall: str, payload: dict) -> None:
        """The incident on a wall: the map centred on it with its units' routes (the backend adds
        them from the incident), beside its scene cameras, with or without a linked alarm."""
        inc = self.dispatch_ctl.incidents.get(payload.get("incident_id", ""))
        if inc is None:
            return
        cams = tuple(self.dispatch_ctl.cameras_near(inc.id)[:4])
        title = f"P{inc.priority} · {self.dispatch_ctl.incidents.catalogue.name(inc.type)} — {inc.street or inc.id}"
        self.wall_ctl.push(
            wall, WallContent.incident(inc.id, inc.lat, inc.lon, cams, title), f"Incident {inc.id}"
        )

    def _on_activated(self, asset_id: str) -> None:
        rec = self.store.record(asset_id)
        if rec is not None and rec.kind == "camera":
            self.show_camera(asset_id)

    # ---- commands, login ---------------------------------------------------------------------------

    def _may_command(self, asset_id: str) -> bool:
        """The detail's "Command…": this user may command, and some action fits this asset."""
        return self.link.live and self.session.may("OPERATOR") and bool(self.command_ctl.fitting([asset_id]))

    def open_command(self, asset_ids: list[str]) -> None:
        """The command dialog for these assets, over the window the operator is working in."""
        if not self.link.live:
            self.sig_message.emit(f"No command sent: {self.link.reason()}")
            return
        self.command_ctl.open_for([a for a in asset_ids if a], QApplication.activeWindow())

    def _alarm(self, alarm_id: str):  # AlarmRecord | None
        return self.alarm_ctl.store.alarms.get(alarm_id) or self.alarm_ctl.journal.alarm(alarm_id)

    def _on_logged_in(self, user: str, role: str) -> None:
        if self.login_dialog is not None:
            self.login_dialog.hide()
        self._update_actions()
        self.dispatch_ctl.set_rights(role)
        self.sig_user.emit(user, role)
        self.sig_message.emit(f"Logged in as {user} ({role})")

    def _on_login_required(self, reason: str) -> None:
        """Nobody is logged in any more (first start without credentials, refused, session ended
        by an administrator): say so everywhere and ask."""
        self.sig_user.emit("", "")
        self.ask_login(reason)

    def ask_login(self, reason: str) -> None:
        if self.login_dialog is None:
            creds = self.session.credentials
            self.login_dialog = LoginDialog(self.session.address, creds.user if creds else "")
            self.login_dialog.sig_login.connect(
                lambda u, p: self.session.login(
                    Credentials(u, p, self.session.credentials.console if self.session.credentials else "")
                )
            )
        self.login_dialog.ask(reason)
