"""Send to wall, for consoles: keeps every wall from the session (model, panel, the views' menus),
turns what a view asks ("send this camera / view / map / incident to wall-2") into a push, and
reports the result.

Wiring in a main window:

    self.wall_ctl = WallController(session, assets=self.assets, parent=self)
    self.wall_ctl.attach_to(mosaic_panel=self.cameras, map_view=self.map, alarm_panel=self.alarm_ctl.panel,
                            alarm_lookup=self.alarm_ctl.store.alarms.get)
    self.wall_ctl.sig_message.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
    # and put self.wall_ctl.panel (the walls list) in a dock or panel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from vigie.app.client.session import Session
from vigie.app.models.asset_table import AssetTableModel
from vigie.app.models.assets import AssetStore
from vigie.app.models.records import AlarmRecord
from vigie.app.models.walls import NAME_ROLE, WallListModel
from vigie.app.wall.content import WallContent, WallState, summary
from vigie.widgets.mosaic.layouts import LAYOUTS
from vigie.widgets.wall.walls_panel import WallsPanel


def alarm_title(a: AlarmRecord) -> str:
    return f"P{a.priority} · {a.message or a.cause} — {a.asset_name or a.asset_id}"


class WallController(QObject):
    sig_walls = Signal(object)  # list[WallState], sorted by name
    sig_message = Signal(str)  # the result of a push, for the status bar

    def __init__(
        self,
        session: Session,
        assets: AssetStore | AssetTableModel | None = None,
        watch: bool = True,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.assets = assets
        self.model = WallListModel(self.name_of, self)
        self.panel = WallsPanel(self.model, NAME_ROLE)
        self.panel.sig_clear.connect(self.clear)
        self.panel.sig_create.connect(self.create)
        session.core.sig_logged_in.connect(
            lambda _user, _role: self.panel.set_may_create(session.may("SUPERVISOR"))
        )
        self.alarm_lookup: Callable[[str], AlarmRecord | None] = lambda _id: None
        self._views: list[Any] = []  # widgets with set_walls() and sig_send_to_wall
        self.last_result: tuple[bool, str] | None = None
        session.walls.sig_walls.connect(self._on_walls)
        session.walls.sig_result.connect(self._on_result)
        if assets is not None:  # camera names arrive with the assets
            assets.sig_reset.connect(lambda: self.model.set_walls(list(self.model.walls.values())))
        if watch:
            session.walls.watch()

    # ---- state -----------------------------------------------------------------------------

    def walls(self) -> list[WallState]:
        return [self.model.walls[n] for n in self.model.names()]

    def names(self) -> list[str]:
        return self.model.names()

    def wall(self, name: str) -> WallState | None:
        return self.model.wall(name)

    def name_of(self, asset_id: str) -> str:
        rec = self.assets.record(asset_id) if self.assets is not None else None
        return rec.name if rec is not None else asset_id

    def _on_walls(self, walls: list[WallState]) -> None:
        self.model.set_walls(walls)
        names = [w.name for w in walls]
        offline = {w.name for w in walls if not w.online}
        for view in self._views:
            view.set_walls(names, offline)
        self.sig_walls.emit(walls)

    def _on_result(self, ok: bool, message: str) -> None:
        self.last_result = (ok, message)
        self.sig_message.emit(message)

    # ---- pushes ----------------------------------------------------------------------------

    def push(self, wall: str, content: WallContent, what: str = "") -> None:
        """Show `content` on `wall`; the outcome comes back on sig_message."""
        self.session.walls.push(wall, content, what or summary(content, self.name_of))

    def push_camera(self, wall: str, camera_id: str) -> None:
        self.push(wall, WallContent.camera(camera_id))

    def push_mosaic(
        self, wall: str, name: str, rows: int, columns: int, camera_ids: list[str], layout: str = ""
    ) -> None:
        self.push(wall, WallContent.mosaic(name, rows, columns, camera_ids, layout))

    def push_layout(self, wall: str, name: str, layout: str, camera_ids: list[str]) -> None:
        """A console mosaic layout ("2x2", "1+5"...) with its cameras in slot order."""
        shape = LAYOUTS[layout]
        spans = any(rs > 1 or cs > 1 for _r, _c, rs, cs in shape.cells)
        ids = list(camera_ids[: shape.size])
        self.push_mosaic(wall, name or layout, shape.rows, shape.cols, ids, layout if spans else "")

    def push_map(
        self, wall: str, lat: float, lon: float, zoom: float, focus: str = "", layers: list[str] | None = None
    ) -> None:
        self.push(wall, WallContent.map(lat, lon, zoom, focus, layers or []))

    def push_alarm(self, wall: str, alarm: AlarmRecord | str) -> None:
        """The incident: the map on it beside its cameras. An id alone is completed by the backend."""
        if isinstance(alarm, str):
            rec = self.alarm_lookup(alarm)
            if rec is None:
                self.push(wall, WallContent.alarm(alarm), f"Alarm {alarm}")
                return
            alarm = rec
        content = WallContent.alarm(
            alarm.id, alarm.asset_id, alarm.lat, alarm.lon, alarm.camera_ids[:4], alarm_title(alarm)
        )
        self.push(wall, content)

    def create(self, name: str, displays: list[str]) -> None:
        """A supervisor's new wall (the backend refuses other roles, and says so)."""
        self.session.walls.create(name, displays)

    def clear(self, wall: str) -> None:
        self.push(wall, WallContent.clear(), "Nothing")

    def send(self, wall: str, payload: dict) -> None:
        """What a view's "Send to wall ▸" asks for (payloads: widgets/wall/send_menu.py)."""
        kind = payload.get("kind")
        if kind == "camera":
            self.push_camera(wall, payload["camera_id"])
        elif kind == "mosaic":
            self.push_layout(wall, payload.get("name", ""), payload["layout"], payload["camera_ids"])
        elif kind == "map":
            self.push_map(
                wall,
                payload["lat"],
                payload["lon"],
                payload["zoom"],
                payload.get("focus", ""),
                payload.get("layers"),
            )
        elif kind == "alarm":
            self.push_alarm(wall, payload["alarm_id"])
        elif kind == "clear":
            self.clear(wall)
        else:
            self.sig_message.emit(f"Cannot send {kind!r} to a wall")

    # ---- wiring ----------------------------------------------------------------------------

    def attach_to(
        self,
        mosaic_panel: Any = None,
        map_view: Any = None,
        alarm_panel: Any = None,
        alarm_lookup: Callable[[str], AlarmRecord | None] | None = None,
    ) -> None:
        """Give these views the walls, and push what they ask (any of them may be None).
        `alarm_lookup(alarm_id)` completes an alarm from the console's alarm list."""
        for view in (mosaic_panel, map_view, alarm_panel):
            if view is None:
                continue
            self._views.append(view)
            view.destroyed.connect(lambda _=None, v=view: self._views.remove(v) if v in self._views else None)
            view.sig_send_to_wall.connect(self.send)
            walls = self.walls()
            view.set_walls([w.name for w in walls], {w.name for w in walls if not w.online})
        if alarm_lookup is not None:
            self.alarm_lookup = alarm_lookup
