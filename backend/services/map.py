"""vigie.v1.MapService: the device network's vector basemap as GeoJSON layers."""

from __future__ import annotations

import json

import grpc

from vigie.backend.adapters.base import DeviceNetwork
from vigie.backend.services.convert import geo
from vigie.v1 import map_pb2, map_pb2_grpc

# Layers are drawn in this order (bottom first); others follow.
LAYER_ORDER = ["districts", "water", "parks", "streets", "ring", "tram"]


class MapService(map_pb2_grpc.MapServiceServicer):
    def __init__(
        self, network: DeviceNetwork, name: str, center: tuple[float, float], zoom: int = 13
    ) -> None:
        self.network = network
        self.name = name
        self.center = center
        self.zoom = zoom
        self._cached: map_pb2.Basemap | None = None

    def _build(self) -> map_pb2.Basemap | None:
        layers = self.network.basemap()
        if layers is None:
            return None
        names = [n for n in LAYER_ORDER if n in layers] + [n for n in layers if n not in LAYER_ORDER]
        return map_pb2.Basemap(
            name=self.name,
            center=geo(*self.center),
            zoom=self.zoom,
            layers=[
                map_pb2.MapLayer(name=n, geojson=json.dumps(layers[n], separators=(",", ":"))) for n in names
            ],
        )

    async def GetBasemap(
        self, request: map_pb2.GetBasemapRequest, context: grpc.aio.ServicerContext
    ) -> map_pb2.Basemap:
        if self._cached is None:
            self._cached = self._build()  # the city's streets do not change while it runs
        if self._cached is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, "this device network has no basemap; configure map tiles"
            )
        return self._cached  # type: ignore[return-value]
