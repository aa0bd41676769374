"""Feeds the map from the asset store and the session, and shares selection with the asset panel.

The map gets the full set of assets on each snapshot and the changed ones on every tick of the
asset store (app/models/assets.py), without waiting for the table's re-sort (the widget batches
them to the page). The view (centre, zoom, layers) and the basemap choice
persist in QSettings.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from vigie.app.client.session import Session
from vigie.app.models.asset_table import AssetTableModel
from vigie.app.models.assets import AssetStore, Changes, store_of
from vigie.app.models.records import AlarmRecord, AssetRecord
from vigie.widgets.alarms.style import PRIORITY_COLORS
from vigie.widgets.map.map_view import MapView


def map_row(r: AssetRecord) -> list:
    """One asset as the map page's row (see widgets.map.map_view.COLUMNS)."""
    label = ""
    if r.kind == "vehicle":
        label = r.attributes.get("callsign", r.name)
    return [
        r.id,
        r.kind,
        r.name,
        round(r.lat, 6),
        round(r.lon, 6),
        r.status,
        round(r.heading, 1),
        label,
        r.last_seen,
    ]


def tiles_setting(tiles: str) -> tuple[str, str]:
    """('mbtiles', path) for an existing .mbtiles file, else ('xyz', url template)."""
    if tiles.lower().endswith(".mbtiles"):
        return "mbtiles", str(Path(tiles).expanduser().resolve())
    if "{z}" not in tiles or "{x}" not in tiles or "{y}" not in tiles:
        raise ValueError(
            f"--tiles needs an XYZ template with {{z}}, {{x}} and {{y}}, or a .mbtiles file: {tiles!r}"
        )
    return "xyz", tiles


class MapController(QObject):
    sig_select = Signal(str)  # the operator picked an asset on the map
    sig_show_in_mosaic = Signal(str)
    sig_create_incident = Signal(float, float)
    sig_create_incident_type = Signal(float, float, str)  # "Create incident here ▸ <type>"
    sig_incident_clicked = Signal(str)
    sig_command = Signal(list)  # asset ids to command

    def __init__(
        self,
        session: Session,
        model: AssetStore | AssetTableModel,
        view: MapView,
        tiles: str | None = None,
        remember_view: bool = True,
        initial_view: dict | None = None,
    ) -> None:
        """`remember_view`: keep the view in QSettings; a console with workspaces keeps it there
        instead and gives it back as `initial_view` ({"lat", "lon", "zoom", "layers"})."""
        super().__init__(view)
        self.session, self.view = session, view
        self.model = store_of(model)
        self.tiles: dict | None = None
        self._layers: dict[str, str] | None = None
        settings = QSettings()
        if tiles:  # the command line wins, and becomes the saved choice
            settings.setValue("map/tiles", tiles)
        tiles = tiles or settings.value("map/tiles", "", str)
        if tiles:
            kind, where = tiles_setting(tiles)
            self.tiles = view.use_mbtiles(where) if kind == "mbtiles" else {"url": where, "maxZoom": 19}
            view.set_basemap(tiles=self.tiles)
        saved = settings.value("map/view", "", str) if remember_view else ""
        self.current_view: dict | None = json.loads(saved) if saved else initial_view
        self._restored = bool(self.current_view)
        if self.current_view:
            view.set_view(self.current_view)

        self.model.sig_reset.connect(self._on_reset)
        self.model.sig_changed.connect(self._on_changed)
        session.map.sig_basemap.connect(self._on_basemap)
        view.sig_view_changed.connect(self._on_view_changed)
        self.remember_view = remember_view
        view.sig_asset_clicked.connect(self.sig_select)
        view.sig_context_action.connect(self._on_context)
        view.sig_incident_clicked.connect(self.sig_incident_clicked)

    def _on_view_changed(self, view: dict) -> None:
        self.current_view = view
        if self.remember_view:
            QSettings().setValue("map/view", json.dumps(view))

    def refresh(self) -> None:
        """Draw every asset the model holds (a map made after the snapshot arrived)."""
        if self.model.total():
            self._on_reset()

    def _on_reset(self) -> None:
        self.view.reset_assets([map_row(r) for r in self.model.records()])
        if self._layers is None:
            self.session.map.request_basemap()  # once per console: the streets do not move

    def _on_changed(self, changes: Changes) -> None:
        """A fixed asset that neither moved, turned, got renamed nor changed kind goes as its status
        alone, and not at all when that did not change either (a report time, a reason): no row
        built for what the map draws the same (most of a live city's changes)."""
        rows: list[list] = []
        statuses: list[tuple[str, str]] = []
        for old, new in changes:
            if (
                old is None
                or new.kind == "vehicle"
                or old.kind != new.kind
                or old.lat != new.lat
                or old.lon != new.lon
                or old.heading != new.heading
                or old.name != new.name
            ):
                rows.append(map_row(new))
            elif old.status != new.status:
                statuses.append((new.id, new.status))
        if rows:
            self.view.update_assets(rows)
        if statuses:
            self.view.update_statuses(statuses)

    def _on_basemap(self, basemap: dict) -> None:
        self._layers = basemap["layers"]
        layers = self._layers
        if self.tiles:  # tiles give the streets: keep only the city's overlays on top
            layers = {k: v for k, v in layers.items() if k in ("districts", "tram")}
        self.view.set_basemap(layers=layers, tiles=self.tiles)
        if not self._restored and "districts" in self._layers:
            self.view.fit_bounds(self.view.city_bounds())
            self._restored = True

    def select(self, asset_id: str, fly: bool = True) -> None:
        self.view.select_asset(asset_id, fly=fly)

    def show_alarm(self, alarm: AlarmRecord | None) -> None:
        """The alarm as an alarm marker on its asset, its cameras highlighted (None: no marker)."""
        if alarm is None:
            self.view.show_alarm(None)
            return
        self.view.show_alarm(
            {
                "id": alarm.id,
                "asset_id": alarm.asset_id,
                "priority": alarm.priority,
                "color": PRIORITY_COLORS.get(alarm.priority, "#f85149"),
                "label": f"P{alarm.priority}",
                "cameras": list(alarm.camera_ids),
            }
        )

    def _on_context(self, action: str, asset_id: str, lat: float, lon: float) -> None:
        if action == "show_in_mosaic":
            self.sig_show_in_mosaic.emit(asset_id)
        elif action == "details":
            self.sig_select.emit(asset_id)
        elif action == "command":
            self.sig_command.emit([asset_id])
        elif action == "create_incident":
            self.sig_create_incident.emit(lat, lon)
        elif action.startswith("create_incident:"):
            self.sig_create_incident_type.emit(lat, lon, action.partition(":")[2])

    # ---- dispatch (app/controllers/dispatch.py) ------------------------------------------

    def set_dispatch(self, incidents: list[dict], routes: list[dict]) -> None:
        self.view.dispatch.set_dispatch(incidents, routes)

    def set_incident_types(self, types: list[tuple[str, str]]) -> None:
        self.view.incident_types = list(types)

    def focus_incident(self, incident_id: str, lat: float, lon: float) -> None:
        self.view.dispatch.focus(incident_id, lat, lon)
