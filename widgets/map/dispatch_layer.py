"""The map's dispatch layer: incidents drawn by type and priority, the routes of the units driving
to them with an ETA counting down on the page, and "show this incident".

Plain values in (dicts of numbers and strings, see `set_dispatch`), one JSON message out per
change (`dispatchChanged`), resent whole when the page (re)loads. The page draws it in its own
section of resources/map/map.js."""

from __future__ import annotations

import json

from vigie.widgets.map.bridge import MapBridge


class DispatchLayer:
    def __init__(self, bridge: MapBridge) -> None:
        self.bridge = bridge
        self.ready = False
        self.incidents: list[dict] = []
        self.routes: list[dict] = []
        self._focus: dict | None = None

    def set_dispatch(self, incidents: list[dict], routes: list[dict]) -> None:
        """`incidents`: {id, lat, lon, priority, status, type, label, color, status_color,
        selected}; `routes`: {incident_id, unit_id, callsign, points [[lat, lon]...], eta_at (unix
        seconds), color, selected, proposed?}."""
        self.incidents, self.routes = incidents, routes
        if self.ready:
            self._send()

    def focus(self, incident_id: str, lat: float, lon: float) -> None:
        self._focus = {"id": incident_id, "lat": lat, "lon": lon, "fly": True}
        if self.ready:
            self.bridge.focusIncident.emit(json.dumps(self._focus))
            self._focus = None

    def on_ready(self) -> None:
        self.ready = True
        self._send()
        if self._focus:
            self.bridge.focusIncident.emit(json.dumps(self._focus))
            self._focus = None

    def on_reload(self) -> None:
        self.ready = False

    def _send(self) -> None:
        payload = {"incidents": self.incidents, "routes": self.routes}
        self.bridge.dispatchChanged.emit(json.dumps(payload, separators=(",", ":")))
