"""The live city map: Leaflet in QtWebEngine, fed with plain rows, reporting what the operator does.

Updates are batched: changed rows are merged and sent to the page at most `flush_hz` times a second
as one JSON message (never one JavaScript call per marker). An asset whose status alone changed goes
as its slot in the page's store and its status, not as a row (most of a live city's changes). The
widget keeps the latest row of every asset so a reloaded page (or a renderer that restarted) gets
everything again. It knows nothing of gRPC: rows, basemap layers and tile settings come from its
owner.
"""

from __future__ import annotations

import html
import json
import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, QStringListModel, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWebChannel import QWebChannel
from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile, QWebEngineSettings
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from vigie.widgets.dnd import asset_mime
from vigie.widgets.map.bridge import MapBridge
from vigie.widgets.map.dispatch_layer import DispatchLayer
from vigie.widgets.map.mbtiles import TILE_URL, MBTilesReader, MBTilesSchemeHandler
from vigie.widgets.map.offline_guard import OfflineGuard
from vigie.widgets.map.tsp_layer import TspLayer
from vigie.widgets.wall.send_menu import WallChoices

COLUMNS = ["id", "kind", "name", "lat", "lon", "status", "heading", "label", "updated"]
ROW_ID, ROW_KIND, ROW_NAME, ROW_LAT, ROW_LON, ROW_STATUS, ROW_HEADING, ROW_UPDATED = 0, 1, 2, 3, 4, 5, 6, 8
_COMPACT = (",", ":")


_HANDLER: list[MBTilesSchemeHandler] = []  # the one handler of the application profile

# glibc raises its mmap threshold each time a large block is freed, so the page's message buffers
# (a batch of rows is 50-500 KB of JSON, copied a few times on its way in) end up inside the
# renderer's main heap, which fragments and only grows: +9-10 MB per hour there while the page's JS
# heap, DOM and canvases stayed flat (docs/soak.md, "The map renderer"). A fixed threshold keeps
# them in their own mappings, returned when freed. QtWebEngine's processes inherit the console's
# environment when its first page starts them: set before any QWebEngineView exists.
RENDERER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}
# A renderer that died is started again with the page at once; one that keeps dying before the
# page is ready waits longer each time (one that cannot start at all was relaunched thousands of
# times a minute, a core busy for nothing), up to the last delay. Milliseconds.
RELOAD_BACKOFF_MS = (0, 500, 1000, 2000, 5000, 10000, 30000)

log = logging.getLogger(__name__)


def set_renderer_malloc_env() -> None:
    """Give QtWebEngine's processes the malloc settings above (a value the user set wins)."""
    for key, value in RENDERER_MALLOC_ENV.items():
        os.environ.setdefault(key, value)


def _mbtiles_handler(profile: QWebEngineProfile) -> MBTilesSchemeHandler:
    """The `vigie-mbtiles://` handler, installed before the profile's first page exists
    (QtWebEngine ignores handlers installed later); it serves tiles once given a file."""
    installed = profile.urlSchemeHandler(b"vigie-mbtiles")
    if _HANDLER and installed is _HANDLER[0]:
        return _HANDLER[0]
    if isinstance(installed, MBTilesSchemeHandler):
        _HANDLER[:] = [installed]
        return installed
    handler = MBTilesSchemeHandler(parent=profile)
    profile.installUrlSchemeHandler(b"vigie-mbtiles", handler)
    _HANDLER[:] = [handler]
    return handler


def _bounds(coords: list[tuple[float, float]]) -> dict[str, float]:
    lons = [c[0] for c in coords]
    lats = [c[1] for c in coords]
    return {"south": min(lats), "west": min(lons), "north": max(lats), "east": max(lons)}


def _flatten(geometry: dict) -> list[tuple[float, float]]:
    """Every [lon, lat] of a GeoJSON geometry."""
    out: list[tuple[float, float]] = []

    def walk(c: Any) -> None:
        if c and isinstance(c[0], (int, float)):
            out.append((c[0], c[1]))
        else:
            for x in c:
                walk(x)

    walk(geometry.get("coordinates", []))
    return out


class MapView(QWidget):
    sig_ready = Signal()
    sig_asset_clicked = Signal(str)
    sig_context_action = Signal(
        str, str, float, float
    )  # "show_in_mosaic" | "details" | "create_incident", id, lat, lon
    sig_view_changed = Signal(dict)  # {"lat", "lon", "zoom", "layers": {kind: bool}}
    sig_send_to_wall = Signal(str, object)  # wall name, payload (see widgets/wall/send_menu.py)
    sig_incident_clicked = Signal(str)  # an incident's marker (dispatch layer)

    def __init__(
        self, page_path: Path, style: dict, flush_hz: float = 2.0, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.style_payload = style
        self.ready = False
        self._rows: dict[str, list] = {}
        self._dirty: set[str] = set()  # assets to send as rows
        self._status_dirty: set[str] = set()  # assets to send as (slot, status)
        # Per asset, its slot in the page's store: the page numbers assets in the order rows
        # reach it (the reset's, then each new one's), so a status change can name the slot.
        self._slots: dict[str, int] = {}
        # Per asset, the JSON of its row's first columns (id to lon) and the values it was made from:
        # a status change re-encodes only the rest (floats cost most of the encoding).
        self._head_json: dict[str, tuple[list, str]] = {}
        self._basemap: str | None = None
        self._view: dict | None = None
        self._selected = ""
        self._alarm: dict = {"id": ""}  # the alarm marker (show_alarm)
        self._fit: dict[str, float] | None = None
        self._search_targets: dict[str, tuple[str, Any]] = {}
        self._streets: dict[str, list[tuple[float, float]]] = {}
        self._districts: dict[str, dict[str, float]] = {}
        self.walls = WallChoices()  # "Send to wall" targets (set_walls)
        self.current_view: dict | None = None  # the page's last reported view
        self._kiosk = False

        # The application-wide profile (a profile of our own, destroyed with the widget, crashed
        # the process at exit while its page was still alive). The offline guard is per page.
        set_renderer_malloc_env()
        self.web = QWebEngineView(self)
        self.profile = QWebEngineProfile.defaultProfile()
        self.mbtiles_handler = _mbtiles_handler(self.profile)
        self.guard = OfflineGuard(self)
        self.page = QWebEnginePage(self.profile, self.web)
        self.page.setUrlRequestInterceptor(self.guard)
        self.web.setPage(self.page)
        settings = self.page.settings()
        settings.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessFileUrls, True)
        self.page.setBackgroundColor(Qt.GlobalColor.black)
        self.bridge = MapBridge(self)
        self.channel = QWebChannel(self.page)
        self.channel.registerObject("bridge", self.bridge)
        self.page.setWebChannel(self.channel)
        self.bridge.sig_ready.connect(self._on_ready)
        self.bridge.sig_clicked.connect(self.sig_asset_clicked)
        self.bridge.sig_context.connect(self._on_context)
        self.bridge.sig_view.connect(self.sig_view_changed)
        self.bridge.sig_view.connect(lambda v: setattr(self, "current_view", v))
        self.bridge.sig_hovered.connect(self._on_hovered)
        self.dispatch = DispatchLayer(self.bridge)  # incidents and routes
        self._highlight: dict = {"ids": [], "color": "", "fit": False}  # ringed assets (city modes preview)
        self.tsp = TspLayer(self.bridge)  # junctions granting or denying transit priority
        self.bridge.sig_incident_clicked.connect(self.sig_incident_clicked)
        self.incident_types: list[tuple[str, str]] = []  # (code, name): "Create incident here ▸"
        self.hovered = ""
        self._press: tuple[QPoint, str] | None = None
        self.web.loadFinished.connect(self._watch_mouse)
        self.renderer_deaths = 0  # since the page was last ready
        self._reload_timer = QTimer(self, singleShot=True)
        self._reload_timer.timeout.connect(self.reload)
        self.page.renderProcessTerminated.connect(self._on_renderer_gone)

        # Toolbar: search (assets, streets, districts) and zoom to district.
        self.search = QLineEdit(placeholderText="Find an asset, a street or a district…")
        self.search.setClearButtonEnabled(True)
        self._completions = QStringListModel(self)
        completer = QCompleter(self._completions, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(15)
        self.search.setCompleter(completer)
        completer.activated.connect(self.go_to)
        self.search.returnPressed.connect(lambda: self.go_to(self.search.text()))
        self.districts = QComboBox()
        self.districts.addItem("Zoom to district…")
        self.districts.activated.connect(self._on_district)
        self.toolbar = QWidget()
        bar = QHBoxLayout(self.toolbar)
        bar.setContentsMargins(0, 0, 0, 4)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.districts)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.toolbar)
        # Time mode (docs/recording.md, Console): a banner nobody can take for live.
        self.time_banner = QLabel(self)
        self.time_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.time_banner.setStyleSheet(
            "background: #ffb000; color: black; font-weight: bold; font-size: 16pt; padding: 4px;"
        )
        self.time_banner.hide()
        lay.addWidget(self.time_banner)
        lay.addWidget(self.web, 1)

        self._flush_timer = QTimer(self, interval=int(1000 / flush_hz))
        self._flush_timer.timeout.connect(self._flush)
        self._flush_timer.start()
        self._page_url = QUrl.fromLocalFile(str(page_path))
        self.web.load(self._page_url)

    # ---- configuration ---------------------------------------------------------------------

    def set_basemap(self, layers: dict[str, str] | None = None, tiles: dict | None = None) -> None:
        """Vector layers (GeoJSON text by layer name) and/or raster tiles {"url", "maxZoom", "attribution"}."""
        parts = []
        if layers:
            parts.append('"layers":{' + ",".join(f"{json.dumps(k)}:{v}" for k, v in layers.items()) + "}")
            self._index_basemap(layers)
        if tiles:
            parts.append('"tiles":' + json.dumps(tiles))
            if tiles["url"].startswith(("http://", "https://")):
                self.guard.allow_tile_server(tiles["url"])
                self.page.settings().setAttribute(
                    QWebEngineSettings.WebAttribute.LocalContentCanAccessRemoteUrls, True
                )
        self._basemap = "{" + ",".join(parts) + "}"
        if self.ready:
            self.bridge.basemapChanged.emit(self._basemap)

    def set_kiosk(self, on: bool = True, scale: float = 1.5) -> None:
        """A map to look at, not to use (a video wall): no search bar, no zoom buttons, legend or
        coordinates; the scale bar stays; everything drawn `scale` times bigger (read from afar)."""
        self._kiosk = on
        self.web.setZoomFactor(scale if on else 1.0)
        self.toolbar.setVisible(not on)
        if self.ready:
            self._apply_kiosk()

    def _apply_kiosk(self) -> None:
        verb = "add" if self._kiosk else "remove"
        self.run_js(f"document.body.classList.{verb}('vg-kiosk')")

    def set_controls_visible(self, visible: bool) -> None:
        """The workspace's presentation mode: the same as a kiosk, drawn at its normal size."""
        self.set_kiosk(not visible, scale=1.0)

    def set_walls(self, names: list[str], offline: set[str] | frozenset[str] = frozenset()) -> None:
        """The walls the context menu offers to send to (none: no such entry)."""
        self.walls.set_walls(names, offline)

    def city_bounds(self) -> dict[str, float]:
        """Bounds of all districts of the basemap (the whole city)."""
        boxes = list(self._districts.values())
        return {
            "south": min(b["south"] for b in boxes),
            "west": min(b["west"] for b in boxes),
            "north": max(b["north"] for b in boxes),
            "east": max(b["east"] for b in boxes),
        }

    def use_mbtiles(self, path: str | Path) -> dict:
        """Serve a local MBTiles file to the page; returns the tile settings for set_basemap()."""
        reader = MBTilesReader(path)
        self.mbtiles_handler.reader = reader
        name = reader.metadata.get("attribution") or reader.metadata.get("name") or Path(path).name
        # The page shows attributions as HTML: a file's metadata is text, never markup or script.
        name = html.escape(name)
        return {"url": TILE_URL, "maxZoom": reader.max_zoom, "minZoom": reader.min_zoom, "attribution": name}

    def _index_basemap(self, layers: dict[str, str]) -> None:
        """Street and district names for the search box and the district menu."""
        self._streets.clear()
        self._districts.clear()
        if "streets" in layers:
            for f in json.loads(layers["streets"]).get("features", []):
                name = f.get("properties", {}).get("name")
                if name:
                    self._streets.setdefault(name, []).extend(_flatten(f.get("geometry", {})))
        if "districts" in layers:
            for f in json.loads(layers["districts"]).get("features", []):
                name = f.get("properties", {}).get("name")
                if name:
                    self._districts[name] = _bounds(_flatten(f.get("geometry", {})))
        self.districts.clear()
        self.districts.addItem("Zoom to district…")
        self.districts.addItems(sorted(self._districts))
        self._rebuild_search()

    def set_time_banner(self, text: str) -> None:
        """Time mode: "PLAYBACK hh:mm:ss" across the map's top; "" back to live (no banner)."""
        self.time_banner.setText(text)
        self.time_banner.setVisible(bool(text))

    # ---- assets ----------------------------------------------------------------------------

    def reset_assets(self, rows: list[list]) -> None:
        """Replace every asset (rows in COLUMNS order)."""
        self._rows = {r[ROW_ID]: r for r in rows}
        self._dirty.clear()
        self._status_dirty.clear()
        self._head_json.clear()
        if self.ready:
            self._send_reset()
        self._rebuild_search()

    def update_assets(self, rows: list[list]) -> None:
        """Queue changed assets; they reach the page on the next flush."""
        known, dirty, status_dirty = self._rows, self._dirty, self._status_dirty
        for r in rows:
            aid = r[ROW_ID]
            old = known.get(aid)
            known[aid] = r
            # Only a vehicle's report time is drawn (stale positions); a fixed asset that only
            # reported in again looks the same, so it is not resent; one whose status alone
            # changed goes as its status.
            if (
                old is None
                or r[ROW_KIND] == "vehicle"
                or old[:ROW_STATUS] != r[:ROW_STATUS]
                or old[ROW_HEADING:ROW_UPDATED] != r[ROW_HEADING:ROW_UPDATED]
            ):
                dirty.add(aid)
            elif old[ROW_STATUS] != r[ROW_STATUS]:
                status_dirty.add(aid)

    def update_statuses(self, changes: list[tuple[str, str]]) -> None:
        """Queue (id, status) of fixed assets whose status alone changed (same kind, name,
        position, heading): the owner need not build their rows. An id the widget does not
        hold is ignored (a new asset comes as a row, through update_assets)."""
        known, status_dirty = self._rows, self._status_dirty
        for aid, status in changes:
            row = known.get(aid)
            if row is None or row[ROW_STATUS] == status:
                continue
            row = row.copy()  # the owner may still hold the list it gave
            row[ROW_STATUS] = status
            known[aid] = row
            status_dirty.add(aid)

    def select_asset(self, asset_id: str, fly: bool = True) -> None:
        self._selected = asset_id
        if self.ready:
            self.bridge.selectAsset.emit(json.dumps({"id": asset_id, "fly": fly}))

    def show_alarm(self, alarm: dict | None) -> None:
        """Draw an alarm as an alarm marker on its asset, with the cameras covering it highlighted:
        `{id, asset_id, priority, color, label, cameras: [ids]}`, or None to remove it."""
        self._alarm = alarm or {"id": ""}
        if self.ready:
            self.bridge.alarmFocus.emit(json.dumps(self._alarm))

    def set_view(self, view: dict) -> None:
        self._view = view
        if self.ready:
            self.bridge.setView.emit(json.dumps(view))

    def fit_bounds(self, bounds: dict[str, float]) -> None:
        self._fit = bounds
        if self.ready:
            self.bridge.fitBounds.emit(json.dumps(bounds))
            self._fit = None

    def highlight_assets(self, ids: list[str], color: str = "#f0883e", fit: bool = False) -> None:
        """Ring these assets on the map (the whole set; [] clears); `fit` frames them once."""
        self._highlight = {"ids": list(ids), "color": color, "fit": fit}
        if self.ready:
            self.bridge.highlightAssets.emit(json.dumps(self._highlight, separators=(",", ":")))

    def _on_renderer_gone(self, status: Any, code: int) -> None:
        delay = RELOAD_BACKOFF_MS[min(self.renderer_deaths, len(RELOAD_BACKOFF_MS) - 1)]
        self.renderer_deaths += 1
        self.ready = False
        if self.renderer_deaths <= 3 or self.renderer_deaths % 20 == 0:
            log.warning(
                "the map's renderer ended (%s, code %s; %d time(s) since the map was last ready):"
                " loading the page again in %.1f s",
                getattr(status, "name", status),
                code,
                self.renderer_deaths,
                delay / 1000,
            )
        self._reload_timer.start(delay)

    def reload(self) -> None:
        self._reload_timer.stop()
        self.ready = False
        self.dispatch.on_reload()
        self.tsp.on_reload()
        self.web.load(self._page_url)

    def run_js(self, script: str, callback: Any = None) -> None:
        """Evaluate in the page (tests and benchmarks inspect `window.vigieMap`)."""
        if callback is None:
            self.page.runJavaScript(script)
        else:
            self.page.runJavaScript(script, 0, callback)

    def _send_reset(self) -> None:
        payload = {"columns": COLUMNS, "rows": list(self._rows.values()), "style": self.style_payload}
        self._slots = {aid: n for n, aid in enumerate(self._rows)}
        self._status_dirty.clear()
        self.bridge.assetsReset.emit(json.dumps(payload, separators=(",", ":")))

    def _row_json(self, row: list) -> str:
        """One row as JSON, its unchanging head (id, kind, name, position) encoded once."""
        head = row[:ROW_STATUS]
        cached = self._head_json.get(row[ROW_ID])
        if cached is None or cached[0] != head:
            cached = (head, json.dumps(head, separators=_COMPACT)[:-1])  # without its "]"
            self._head_json[row[ROW_ID]] = cached
        return cached[1] + "," + json.dumps(row[ROW_STATUS:], separators=_COMPACT)[1:]

    def _flush(self) -> None:
        """One message: {"rows": [row, ...], "status": {status: [slot, ...]}} ("status" only when
        some asset's status alone changed). The page takes the rows first, new assets getting the
        next slots in the rows' order, then the statuses."""
        if not self.ready or not (self._dirty or self._status_dirty):
            return
        known, dirty, slots = self._rows, self._dirty, self._slots
        by_status: dict[str, list[int]] = {}
        for aid in self._status_dirty:
            if aid in dirty:
                continue  # its row goes, with the status
            slot = slots.get(aid)
            if slot is None:  # never sent: cannot happen while the page takes every row it gets
                dirty.add(aid)
                continue
            by_status.setdefault(known[aid][ROW_STATUS], []).append(slot)
        self._status_dirty.clear()
        rows = []
        for aid in dirty:
            row = known.get(aid)
            if row is None:
                continue
            if aid not in slots:
                slots[aid] = len(slots)
            rows.append(self._row_json(row))
        dirty.clear()
        message = '{"rows":[' + ",".join(rows) + "]"
        if by_status:
            message += ',"status":' + json.dumps(by_status, separators=_COMPACT)
        self.bridge.assetsChanged.emit(message + "}")

    def _on_ready(self) -> None:
        self.ready = True
        self.renderer_deaths = 0
        if self._kiosk:
            self._apply_kiosk()
        if self._basemap:
            self.bridge.basemapChanged.emit(self._basemap)
        if self._view:
            self.bridge.setView.emit(json.dumps(self._view))
        if self._fit:
            self.bridge.fitBounds.emit(json.dumps(self._fit))
            self._fit = None
        self._send_reset()
        self._dirty.clear()
        self.dispatch.on_ready()
        if self._highlight["ids"]:
            again = dict(self._highlight, fit=False)  # a reloaded page keeps the operator's view
            self.bridge.highlightAssets.emit(json.dumps(again, separators=(",", ":")))
        self.tsp.on_ready()
        if self._selected:
            self.bridge.selectAsset.emit(json.dumps({"id": self._selected, "fly": False}))
        if self._alarm.get("id"):
            self.bridge.alarmFocus.emit(json.dumps(self._alarm))
        self.sig_ready.emit()

    # ---- dragging a camera out of the map --------------------------------------------------

    def _on_hovered(self, asset_id: str) -> None:
        self.hovered = asset_id

    def _watch_mouse(self, _ok: bool) -> None:
        proxy = self.web.focusProxy()  # the widget QtWebEngine renders into gets the mouse
        if proxy is not None:
            proxy.removeEventFilter(self)
            proxy.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Press on a camera, move: a Qt drag carrying the camera (drop it on a mosaic tile)."""
        t = event.type()
        if t == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            row = self._rows.get(self.hovered)
            self._press = (
                (event.position().toPoint(), self.hovered) if row and row[ROW_KIND] == "camera" else None
            )
        elif t == QEvent.Type.MouseButtonRelease:
            self._press = None
        elif (
            t == QEvent.Type.MouseMove
            and self._press is not None
            and event.buttons() & Qt.MouseButton.LeftButton
        ):
            start, asset_id = self._press
            if (event.position().toPoint() - start).manhattanLength() >= QApplication.startDragDistance():
                self._press = None
                self.start_drag(asset_id)
                return True
        return super().eventFilter(obj, event)

    def start_drag(self, asset_id: str) -> None:
        drag = QDrag(self)
        drag.setMimeData(asset_mime([asset_id]))
        label = QLabel(self._rows[asset_id][ROW_NAME] if asset_id in self._rows else asset_id)
        label.setStyleSheet("background: #1f3a5f; color: white; padding: 4px 8px; font-weight: bold;")
        label.adjustSize()
        drag.setPixmap(label.grab())
        drag.exec(Qt.DropAction.CopyAction)
        self.run_js("window.vigieMap.endDrag()")  # the page never saw the release

    # ---- search, districts, context menu ---------------------------------------------------

    def _rebuild_search(self) -> None:
        targets: dict[str, tuple[str, Any]] = {}
        for name in self._districts:
            targets[f"{name} — district"] = ("district", name)
        for name in self._streets:
            targets[f"{name} — street"] = ("street", name)
        for r in self._rows.values():
            targets[f"{r[ROW_NAME]} — {r[ROW_ID]}"] = ("asset", r[ROW_ID])
        self._search_targets = targets
        self._completions.setStringList(sorted(targets))

    def go_to(self, text: str) -> None:
        """Show what the search text names: an asset (selected), a street or a district (framed)."""
        target = self._search_targets.get(text)
        if target is None:  # free text: the first entry that contains it
            needle = text.strip().lower()
            if not needle:
                return
            target = next(
                (t for label, t in sorted(self._search_targets.items()) if needle in label.lower()), None
            )
        if target is None:
            return
        kind, key = target
        if kind == "asset":
            self.select_asset(key, fly=True)
            self.sig_asset_clicked.emit(key)
        elif kind == "street":
            self.fit_bounds(_bounds(self._streets[key]))
        else:
            self.fit_bounds(self._districts[key])

    def _on_district(self, index: int) -> None:
        if index > 0:
            self.fit_bounds(self._districts[self.districts.itemText(index)])
            self.districts.setCurrentIndex(0)

    def context_actions(self, asset_id: str, kind: str) -> list[tuple[str, str]]:
        """(action, label) offered for a right click on an asset of `kind`, or on an empty spot."""
        if not asset_id:
            return [("create_incident", "Create incident here")]
        actions = [("details", "Details"), ("command", "Send a command…")]
        if kind == "camera":
            actions.insert(0, ("show_in_mosaic", "Show in mosaic"))
        return actions

    def wall_payloads(self, asset_id: str, kind: str) -> list[tuple[str, dict]]:
        """(menu title, payload) for "Send to wall" after a right click on an asset or an empty spot:
        the map on the asset (and a camera's picture), or the current view."""
        view = self.current_view or self._view or {"lat": 47.322, "lon": 5.041, "zoom": 13}
        layers = [k for k, on in (view.get("layers") or {}).items() if on]
        if not asset_id:
            payload = {"kind": "map", "lat": view["lat"], "lon": view["lon"], "zoom": view.get("zoom", 13)}
            return [("Send this view to wall", {**payload, "focus": "", "layers": layers})]
        row = self._rows.get(asset_id)
        if row is None:
            return []
        zoom = max(17.0, float(view.get("zoom", 17)))
        out = [
            (
                "Send map of this asset to wall",
                {
                    "kind": "map",
                    "lat": row[ROW_LAT],
                    "lon": row[ROW_LON],
                    "zoom": zoom,
                    "focus": asset_id,
                    "layers": layers,
                },
            )
        ]
        if kind == "camera":
            out.insert(0, ("Send camera to wall", {"kind": "camera", "camera_id": asset_id}))
        return out

    def _on_context(self, info: dict) -> None:
        asset_id, lat, lon = info.get("id", ""), float(info["lat"]), float(info["lon"])
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for action, label in self.context_actions(asset_id, info.get("kind", "")):
            if action == "create_incident" and self.incident_types:  # one pick: the type
                sub = menu.addMenu(label)
                for code, name in self.incident_types:
                    sub.addAction(name).triggered.connect(
                        lambda _=False, c=code: self.sig_context_action.emit(
                            f"create_incident:{c}", "", lat, lon
                        )
                    )
                continue
            menu.addAction(label).triggered.connect(
                lambda _=False, a=action: self.sig_context_action.emit(a, asset_id, lat, lon)
            )
        for title, payload in self.wall_payloads(asset_id, info.get("kind", "")):
            self.walls.add_menu(menu, payload, self.sig_send_to_wall.emit, title)
        # popup(), not exec(): a menu never stops alarms or updates from arriving.
        menu.popup(self.web.mapToGlobal(QPoint(int(info.get("x", 0)), int(info.get("y", 0)))))
