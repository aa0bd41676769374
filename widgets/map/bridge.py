"""The one object the map page sees through QWebChannel (JSON strings both ways, batched)."""

from __future__ import annotations

import json

from PySide6.QtCore import QObject, Signal, Slot


class MapBridge(QObject):
    # Python -> page (each one JSON string; see resources/map/map.js for the shapes).
    basemapChanged = Signal(str)
    assetsReset = Signal(str)
    assetsChanged = Signal(str)
    selectAsset = Signal(str)
    setView = Signal(str)
    fitBounds = Signal(str)
    # Dispatch (widgets/map/dispatch_layer.py): incidents, routes with their ETA, a focus.
    dispatchChanged = Signal(str)
    focusIncident = Signal(str)
    # A set of assets ringed on the map (the city modes preview): {ids, color, fit}.
    highlightAssets = Signal(str)
    # Transit signal priority (widgets/map/tsp_layer.py): junctions' latest grants and denials.
    tspChanged = Signal(str)
    # The selected alarm drawn as an alarm marker, its cameras highlighted ({id: ""} for none).
    alarmFocus = Signal(str)

    # Page -> Python, re-emitted as typed signals for MapView.
    sig_ready = Signal()
    sig_clicked = Signal(str)
    sig_context = Signal(dict)
    sig_view = Signal(dict)
    sig_hovered = Signal(str)
    sig_incident_clicked = Signal(str)

    @Slot()
    def ready(self) -> None:
        self.sig_ready.emit()

    @Slot(str)
    def assetClicked(self, asset_id: str) -> None:
        self.sig_clicked.emit(asset_id)

    @Slot(str)
    def contextRequested(self, payload: str) -> None:
        self.sig_context.emit(json.loads(payload))

    @Slot(str)
    def hovered(self, asset_id: str) -> None:
        self.sig_hovered.emit(asset_id)

    @Slot(str)
    def viewChanged(self, payload: str) -> None:
        self.sig_view.emit(json.loads(payload))

    @Slot(str)
    def incidentClicked(self, incident_id: str) -> None:
        self.sig_incident_clicked.emit(incident_id)
