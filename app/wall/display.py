"""The video wall's picture: a borderless, control-free view that renders one WallContent.

CAMERA: one big live tile (MAIN profile). MOSAIC: a grid of live tiles (a console layout with a big
tile, or rows x columns). MAP: the city map centred and zoomed, the focused asset highlighted.
ALARM: the map on the incident beside its cameras. Nothing: the wall's name, waiting for content.
A caption says what is shown and who pushed it when; a lost backend puts DISCONNECTED across the
top and keeps the last picture. Dark, and sized to be read from 5 m.

The display does not know where content comes from: `vigie wall` feeds it from its own attached
stream, a console's wall-mode screen may feed it from anything. It needs the session for video
and map data, and the asset model for names and the map's markers.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QGuiApplication, QScreen
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from vigie.app import city_time
from vigie.app.client.session import Session
from vigie.app.controllers.map_view import MapController, map_row
from vigie.app.controllers.mode_banner import attach_banner
from vigie.app.models.asset_table import AssetTableModel
from vigie.app.theme import RESOURCES, map_style
from vigie.app.wall.content import WallContent, summary
from vigie.app.wall.feeds import TileFeeds
from vigie.widgets.dispatch.style import priority_color
from vigie.widgets.map.map_view import MapView
from vigie.widgets.mosaic.layouts import LAYOUTS
from vigie.widgets.mosaic.tile import VideoTile
from vigie.widgets.status.elided_label import ElidedLabel
from vigie.widgets.status.palette import KIND_LABELS

MAIN_TILE = (960, 540)  # a mosaic tile at least this big streams the MAIN profile
ALARM_ZOOM = 17.0
ALARM_CAMERAS = 3
ROUTE_COLOR = "#f0883e"  # a unit's drive on a wall (the consoles' DISPATCHED / EN ROUTE orange)
TILE_FONT_PT = 20.0

STYLE = """
QWidget#wallDisplay, QWidget#wallPage { background: #050608; }
QLabel#wallIdleName { color: #e6edf3; font-size: 96pt; font-weight: bold; background: transparent; }
QLabel#wallIdleWait { color: #6e7681; font-size: 36pt; background: transparent; }
QLabel#wallIdleHost { color: #484f58; font-size: 18pt; background: transparent; }
QWidget#wallCaption { background: #0d1117; border-top: 2px solid #30363d; }
QWidget#wallCaption[alarm="true"] { background: #3d1214; border-top: 2px solid #f85149; }
QLabel#wallWhat { color: #e6edf3; font-size: 26pt; font-weight: bold; background: transparent; }
QLabel#wallWho { color: #aab3bd; font-size: 18pt; background: transparent; }
QLabel#wallClock { color: #e6edf3; font-size: 26pt; font-weight: bold; background: transparent; }
QLabel#wallBanner { color: #ffffff; font-size: 34pt; font-weight: bold; padding: 10px;
    background: #b62324; }
QLabel#wallBanner[level="warn"] { background: #9e6a03; }
QLabel#wallSideTitle { color: #e6edf3; font-size: 20pt; font-weight: bold; background: transparent; }
"""


def incident_layer(c: WallContent) -> tuple[list[dict], list[dict]]:
    """The map's dispatch layer for an incident on the wall (widgets/map/dispatch_layer.py):
    the incident, selected, and its units' routes as pushed; nothing for other content."""
    if c.kind != "incident":
        return [], []
    incident = {
        "id": c.incident_id,
        "lat": c.lat,
        "lon": c.lon,
        "priority": c.priority,
        "status": "",
        "type": c.incident_type,
        "label": c.title,
        "color": priority_color(c.priority),
        "status_color": "#ffffff",
        "selected": True,
    }
    routes = [
        {
            "incident_id": c.incident_id,
            "unit_id": r.unit_id,
            "callsign": r.callsign,
            "points": [list(p) for p in r.points],
            "eta_at": r.eta_at,
            "color": ROUTE_COLOR,
            "selected": True,
        }
        for r in c.routes
        if len(r.points) >= 2
    ]
    return [incident], routes


class WallDisplay(QWidget):
    """Show a WallContent (show_content) and the state of the link (set_link); stop() at the end."""

    def __init__(
        self,
        session: Session,
        assets: AssetTableModel,
        name: str = "",
        tiles: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("wallDisplay")
        self.setStyleSheet(STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.session, self.assets, self.name, self.tiles = session, assets, name, tiles
        self.content = WallContent()
        self.page = "idle"  # "idle" | "video" | "map": what the stack shows
        self.link = ""  # the last set_link() state
        self._lost_since = 0.0  # unix time the backend link was lost (0: not lost)
        self._retry_at = 0.0
        self._link_detail = ""
        self.feeds = TileFeeds(session, prefix=f"wall{id(self):x}", parent=self)
        self.map_view: MapView | None = None  # made on first use (QtWebEngine is heavy)
        self.map_ctl: MapController | None = None
        self._tile_font = QFont(self.font())
        self._tile_font.setPointSizeF(TILE_FONT_PT)
        self._tile_font.setBold(True)

        self.banner = QLabel(objectName="wallBanner", alignment=Qt.AlignmentFlag.AlignCenter)
        self.banner.hide()
        self.stack = QStackedWidget()
        self.stack.addWidget(self._idle_page())
        self.video_page = QWidget(objectName="wallPage")
        self.grid = QGridLayout(self.video_page)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        self.grid_tiles: list[VideoTile] = []
        self.stack.addWidget(self.video_page)
        self.map_page = QWidget(objectName="wallPage")
        self.map_row = QHBoxLayout(self.map_page)
        self.map_row.setContentsMargins(0, 0, 0, 0)
        self.map_row.setSpacing(4)
        self.side = QWidget(objectName="wallPage")
        side_lay = QVBoxLayout(self.side)
        side_lay.setContentsMargins(0, 0, 0, 0)
        side_lay.setSpacing(4)
        self.side_tiles = [self._new_tile(i, self.side) for i in range(ALARM_CAMERAS)]
        for t in self.side_tiles:
            side_lay.addWidget(t, 1)
        self.map_row.addWidget(self.side, 1)  # the map goes in front of it (2/3) when first needed
        self.stack.addWidget(self.map_page)

        self.caption = QWidget(objectName="wallCaption")
        self.caption.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        cap = QHBoxLayout(self.caption)
        cap.setContentsMargins(18, 8, 18, 8)
        self.what = ElidedLabel("wallWhat")
        self.who = QLabel(objectName="wallWho")
        self.clock = QLabel(objectName="wallClock")
        cap.addWidget(self.what, 1)
        cap.addWidget(self.who)
        cap.addSpacing(30)
        cap.addWidget(self.clock)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        self.mode_banner = attach_banner(session.active_modes, 30.0)  # read from 5 m
        lay.addWidget(self.mode_banner)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.caption)

        self._timer = QTimer(self, interval=1000)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        assets.sig_reset.connect(self._on_assets)
        self._render()
        self._tick()

    # ---- building blocks -------------------------------------------------------------------

    def _idle_page(self) -> QWidget:
        page = QWidget(objectName="wallPage")
        lay = QVBoxLayout(page)
        lay.addStretch(2)
        self.idle_name = QLabel(self.name or "Video wall", objectName="wallIdleName")
        self.idle_wait = QLabel("waiting for content", objectName="wallIdleWait")
        self.idle_host = QLabel(self.session.address, objectName="wallIdleHost")
        for w in (self.idle_name, self.idle_wait, self.idle_host):
            w.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lay.addWidget(w)
        lay.addStretch(3)
        return page

    def _new_tile(self, index: int, parent: QWidget) -> VideoTile:
        tile = VideoTile(index, parent=parent)
        tile.set_overlay_font(self._tile_font)  # readable from the back of the room
        tile.setAcceptDrops(False)
        tile.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        return tile

    def _ensure_map(self) -> MapView:
        if self.map_view is None:
            view = MapView(RESOURCES / "map" / "index.html", map_style())
            view.set_kiosk(True)
            self.map_row.insertWidget(0, view, 2)
            self.map_view = view
            self.map_ctl = MapController(
                self.session, self.assets, view, tiles=self.tiles, remember_view=False
            )
            if self.assets.total():  # the assets arrived before the map existed
                view.reset_assets([map_row(r) for r in self.assets.records()])
                self.session.map.request_basemap()
            # The map controller frames the whole city when the basemap arrives, and a page
            # that was not ready applies that after our view: put ours back each time.
            self.session.map.sig_basemap.connect(self._apply_map)
            view.sig_ready.connect(self._apply_map)
        return self.map_view

    # ---- what to show ----------------------------------------------------------------------

    def follow(self, session: Session) -> None:
        """Show what the session's attached wall of this display's name receives (and its link);
        the caller attaches: session.walls.attach(name, display)."""
        session.walls.sig_content.connect(self._on_wall_content)
        session.walls.sig_link.connect(self._on_wall_link)

    def _on_wall_content(self, name: str, content: WallContent) -> None:
        if name == self.name:
            self.show_content(content)

    def _on_wall_link(self, name: str, state: str, detail: str, retry_at: float) -> None:
        if name == self.name:
            self.set_link(state, detail, retry_at)

    def show_content(self, content: WallContent) -> None:
        """Render `content` (the same content again changes nothing)."""
        if content == self.content:
            return
        self.content = content
        self._render()

    def _render(self) -> None:
        c = self.content
        if c.kind == "camera":
            self._show_grid(1, 1, [c.camera_id], "", main=True)
        elif c.kind == "mosaic":
            self._show_grid(c.rows, c.columns, list(c.camera_ids), c.layout, main=False)
        elif c.kind in ("map", "alarm", "incident"):
            self._show_map(c)
        else:
            self._stop_tiles(self.grid_tiles + self.side_tiles)
            self.page = "idle"
            self.stack.setCurrentIndex(0)
        self._update_caption()

    def _show_grid(self, rows: int, columns: int, ids: list[str], layout: str, main: bool) -> None:
        shape = LAYOUTS.get(layout)
        if shape is not None and (shape.rows, shape.cols) == (rows, columns):
            cells = list(shape.cells)
        else:
            cells = [(r, col, 1, 1) for r in range(rows) for col in range(columns)]
        while len(self.grid_tiles) < len(cells):
            self.grid_tiles.append(self._new_tile(len(self.grid_tiles), self.video_page))
        for tile in self.grid_tiles:
            self.grid.removeWidget(tile)
            tile.hide()
        for i in range(max(self.grid.rowCount(), self.grid.columnCount(), 8)):
            self.grid.setRowStretch(i, 0)
            self.grid.setColumnStretch(i, 0)
        for r in range(rows):
            self.grid.setRowStretch(r, 1)
        for col in range(columns):
            self.grid.setColumnStretch(col, 1)
        size = self.stack.size()
        big = main or (size.width() / columns >= MAIN_TILE[0] and size.height() / rows >= MAIN_TILE[1])
        profile = "MAIN" if big else "SUB"
        for i, (r, col, rs, cs) in enumerate(cells):
            tile = self.grid_tiles[i]
            self.grid.addWidget(tile, r, col, rs, cs)
            tile.show()
            cam = ids[i] if i < len(ids) else ""
            self.feeds.show(tile, cam, self._name(cam) if cam else "—", profile)
        self._stop_tiles(self.grid_tiles[len(cells) :] + self.side_tiles)
        self.page = "video"
        self.stack.setCurrentIndex(1)

    def _show_map(self, c: WallContent) -> None:
        self._stop_tiles(self.grid_tiles)
        self._ensure_map()
        alarm = c.kind in ("alarm", "incident")  # the place beside its cameras
        self.side.setVisible(alarm)
        cams = list(c.camera_ids[:ALARM_CAMERAS]) if alarm else []
        for i, tile in enumerate(self.side_tiles):
            cam = cams[i] if i < len(cams) else ""
            tile.setVisible(bool(cam) or (alarm and i == 0))
            if cam:
                self.feeds.show(tile, cam, self._name(cam), "SUB")
            else:
                self._stop_tiles([tile])
                tile.set_camera("", "No camera covers this place" if i == 0 else "—")
        self._apply_map()
        self.page = "map"
        self.stack.setCurrentIndex(2)

    def _apply_map(self, *_args: object) -> None:
        c, view = self.content, self.map_view
        if view is None:
            return
        incidents, routes = incident_layer(c)
        view.dispatch.set_dispatch(incidents, routes)  # nothing unless an incident is shown
        if c.kind not in ("map", "alarm", "incident"):
            return
        zoom = c.zoom if c.kind == "map" else ALARM_ZOOM
        layers = {k: (not c.layers or k in c.layers) for k in KIND_LABELS}
        view.set_view({"lat": c.lat, "lon": c.lon, "zoom": zoom, "layers": layers})
        view.select_asset(c.focus_asset_id, fly=False)
        if routes:  # framed with the routes driving to it
            view.dispatch.focus(c.incident_id, c.lat, c.lon)

    def _stop_tiles(self, tiles: list[VideoTile]) -> None:
        for tile in tiles:
            self.feeds.hide(tile)
            if tile.camera_id:
                tile.set_camera("", "—")

    # ---- captions and the link -------------------------------------------------------------

    def _name(self, asset_id: str) -> str:
        rec = self.assets.record(asset_id)
        if rec is not None:
            return rec.name
        info = self.feeds.cameras.get(asset_id)
        return info.name if info is not None else asset_id

    def _on_assets(self) -> None:
        """Names arrive with the assets (and the camera list, for direct cameras)."""
        self.session.video.request_cameras()
        for tile in self.grid_tiles + self.side_tiles:
            if tile.camera_id:
                tile.update_info(self._name(tile.camera_id), False, [])
        self._update_caption()

    def caption_text(self) -> tuple[str, str]:
        """(what is shown, who pushed it when)."""
        c = self.content
        if c.idle:
            return (self.name or "Video wall", "")
        if c.kind == "alarm":
            what = f"⚠ ALARM · {c.title or c.alarm_id}"
        elif c.kind == "incident":
            what = f"⚠ INCIDENT · {c.title or c.incident_id}"
        else:  # "Camera · Gare — parvis": the kind stands out, names stay as people write them
            kind, _, rest = summary(c, self._name).partition(" · ")
            what = f"{kind.upper()} · {rest}"
        when = time.strftime("%H:%M:%S", city_time.localtime(c.pushed_at)) if c.pushed_at else ""
        who = c.pushed_by + (f" ({c.console})" if c.console else "")
        return what, f"pushed by {who} at {when}" if who else ""

    def _update_caption(self) -> None:
        what, who = self.caption_text()
        self.what.setText(what)
        self.what.setToolTip(what)
        self.who.setText(who)
        alarm = "true" if self.content.kind in ("alarm", "incident") else "false"
        if self.caption.property("alarm") != alarm:
            self.caption.setProperty("alarm", alarm)
            self.caption.style().unpolish(self.caption)
            self.caption.style().polish(self.caption)

    def set_link(self, state: str, detail: str = "", retry_at: float = 0.0) -> None:
        """The backend link: "attached"/"connected" (no banner), "connecting", "disconnected"
        (retry_at: time.monotonic() of the next attempt), "replaced" or "refused" (for good)."""
        if state == "disconnected" and not self._lost_since:
            self._lost_since = time.time()
        elif state in ("attached", "connected"):
            self._lost_since = 0.0
        VideoTile.server_unreachable = bool(self._lost_since)  # tiles blame the server, not cameras
        self.link, self._link_detail, self._retry_at = state, detail, retry_at
        self._update_banner()

    def _update_banner(self) -> None:
        state = self.link
        if state in ("", "attached", "connected"):
            self.banner.hide()
            return
        if state == "connecting":
            text, level = f"CONNECTING to {self.session.address}…", "warn"
        elif state == "replaced":
            text, level = f"REPLACED — another display now shows {self.name}", "error"
        elif state == "refused":
            text, level = f"REFUSED — {self._link_detail}", "error"
        else:
            wait = self._retry_at - time.monotonic()
            retry = f" (next try in {wait:.0f} s)" if wait >= 1 else ""
            since = city_time.strftime("%H:%M:%S", self._lost_since or time.time())
            text, level = f"⚠ Server connection lost since {since} — reconnecting{retry}", "error"
        self.banner.setText(text)
        self.banner.setToolTip(self._link_detail)
        if self.banner.property("level") != level:
            self.banner.setProperty("level", level)
            self.banner.style().unpolish(self.banner)
            self.banner.style().polish(self.banner)
        self.banner.show()

    def _tick(self) -> None:
        self.clock.setText(city_time.strftime("%H:%M:%S"))
        if self.link == "disconnected":
            self._update_banner()

    # ---- window ----------------------------------------------------------------------------

    def show_on(self, screen: QScreen | None = None, full_screen: bool = True) -> None:
        """A top-level, borderless window filling `screen` (default: the primary one), no cursor."""
        screen = screen or QGuiApplication.primaryScreen()
        self.setWindowFlags(Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint)
        self.setWindowTitle(f"Vigie wall — {self.name}")
        self.setCursor(Qt.CursorShape.BlankCursor)
        self.setGeometry(screen.geometry())
        if full_screen:
            self.showFullScreen()
        else:
            self.show()

    def stop(self) -> None:
        """Stop every stream and decoder (call before the window goes)."""
        self._timer.stop()
        self.feeds.stop()
