"""Tags the city modes select devices by (docs/modes.md), in each device's "tags" attribute.

- "bus_line": traffic signals at junctions of the avenues and the ring, where the bus lines run
  (the transport issue will bring real lines; until then these junctions keep a bus-priority mode).
- "low_road": bollards, signals and street lights within LOW_ROAD_M of the Ouche (bollards: LOW_ROAD_BOLLARD_M) (floods first).
- "perimeter": the bollards of the pedestrian plateau (closed around a major event).
"""

from __future__ import annotations

import numpy as np

from vigie.backend.domain.assets import Asset, Kind

LOW_ROAD_M = 250.0
LOW_ROAD_BOLLARD_M = 900.0  # the bollards guarding the roads down to the river
BUS_CLASSES = {"avenue", "ring"}


def _add(a: Asset, tag: str) -> None:
    tags = [t for t in a.attributes.get("tags", "").split(",") if t]
    if tag not in tags:
        a.attributes["tags"] = ",".join([*tags, tag])


def tag_assets(assets: list[Asset], streets: list, adjacency: list[list[int]], river: list, to_xy) -> None:
    """Add the tags above (in place, before the city is published)."""
    pts = np.array(river, dtype=float)
    a0, a1 = pts[:-1], pts[1:]
    seg = a1 - a0
    seg_len2 = (seg * seg).sum(axis=1)
    kinds = (Kind.BOLLARD, Kind.TRAFFIC_SIGNAL, Kind.STREET_LIGHT)
    candidates = [a for a in assets if a.kind in kinds]
    if candidates:
        xy = np.array([to_xy(a.lat, a.lon) for a in candidates])[:, None, :]
        t = np.clip(((xy - a0) * seg).sum(axis=2) / seg_len2, 0.0, 1.0)
        closest = a0 + t[:, :, None] * seg
        dist = np.sqrt(((xy - closest) ** 2).sum(axis=2)).min(axis=1)
        for a, d in zip(candidates, dist.tolist(), strict=True):
            if d <= (LOW_ROAD_BOLLARD_M if a.kind is Kind.BOLLARD else LOW_ROAD_M):
                _add(a, "low_road")
    for a in assets:
        if a.kind is Kind.TRAFFIC_SIGNAL and "node" in a.attributes:
            edges = adjacency[int(a.attributes["node"])]
            if any(streets[e].cls in BUS_CLASSES for e in edges):
                _add(a, "bus_line")
        elif a.kind is Kind.BOLLARD and a.attributes.get("zone") == "Plateau piéton":
            _add(a, "perimeter")
