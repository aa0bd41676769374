"""The map service: the backend's vector basemap."""

from __future__ import annotations

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client.core import ClientCore
from vigie.v1 import map_pb2, map_pb2_grpc


class MapClient(QObject):
    sig_basemap = Signal(object)  # {"name", "center": (lat, lon), "zoom", "layers": {name: geojson text}}

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core

    def request_basemap(self) -> None:
        """Fetch the backend's vector basemap; answered by sig_basemap (or the core's sig_error)."""
        self.core.submit(self._basemap())

    async def _basemap(self) -> None:
        stub = self.core.stub(map_pb2_grpc.MapServiceStub)
        try:
            bm = await stub.GetBasemap(map_pb2.GetBasemapRequest(), timeout=30)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            if exc.code() != grpc.StatusCode.NOT_FOUND:  # NOT_FOUND: no basemap, tiles only
                self.core.sig_error.emit(f"Basemap: {self.core.describe(exc)}")
            return
        self.sig_basemap.emit(
            {
                "name": bm.name,
                "center": (bm.center.lat, bm.center.lon),
                "zoom": bm.zoom,
                "layers": {layer.name: layer.geojson for layer in bm.layers},
            }
        )
