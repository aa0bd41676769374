"""What a video wall shows, as the console handles it: plain frozen values (app/client/convert.py
turns them into vigie.v1 messages and back; nothing else here sees protobuf)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

KINDS = ("camera", "mosaic", "map", "alarm", "incident", "clear")


@dataclass(frozen=True, slots=True)
class IncidentRoute:
    """A unit's drive to the incident, as it was when the incident was pushed."""

    unit_id: str
    callsign: str
    points: tuple[tuple[float, float], ...]
    eta_at: float  # unix s


@dataclass(frozen=True, slots=True)
class WallContent:
    """One of: a camera, a mosaic, the map, an alarm, an incident, or nothing ("" or "clear": the idle screen).

    Fields that a kind does not use stay at their defaults. `pushed_by`, `console`, `pushed_at`
    and `version` are set by the backend (what a console sets there is ignored)."""

    kind: str = ""  # "" (nothing ever pushed) | "camera" | "mosaic" | "map" | "alarm" | "incident" | "clear"
    camera_id: str = ""  # camera
    name: str = ""  # mosaic: the view's name
    rows: int = 0  # mosaic
    columns: int = 0  # mosaic
    camera_ids: tuple[str, ...] = ()  # mosaic (row by row, or in `layout` slot order), alarm
    layout: str = ""  # mosaic: a console layout with a big tile ("1+5"), else a plain grid
    lat: float = 0.0  # map centre, alarm position
    lon: float = 0.0
    zoom: float = 0.0  # map
    focus_asset_id: str = ""  # map: the highlighted asset; alarm: its asset
    layers: tuple[str, ...] = ()  # map: visible kinds (empty: the wall's defaults)
    alarm_id: str = ""  # alarm
    title: str = ""  # alarm, incident
    incident_id: str = ""  # incident
    priority: int = 0  # incident
    incident_type: str = ""  # incident: its type code
    routes: tuple[IncidentRoute, ...] = ()  # incident: its units on their way (set by the backend)
    pushed_by: str = ""
    console: str = ""
    pushed_at: float = 0.0  # unix seconds
    version: int = 0

    # ---- constructors for pushes -----------------------------------------------------------

    @classmethod
    def camera(cls, camera_id: str) -> WallContent:
        return cls("camera", camera_id=camera_id)

    @classmethod
    def mosaic(
        cls, name: str, rows: int, columns: int, camera_ids: list[str] | tuple[str, ...], layout: str = ""
    ) -> WallContent:
        return cls(
            "mosaic", name=name, rows=rows, columns=columns, camera_ids=tuple(camera_ids), layout=layout
        )

    @classmethod
    def map(
        cls, lat: float, lon: float, zoom: float, focus: str = "", layers: list[str] | tuple[str, ...] = ()
    ) -> WallContent:
        return cls("map", lat=lat, lon=lon, zoom=zoom, focus_asset_id=focus, layers=tuple(layers))

    @classmethod
    def alarm(
        cls,
        alarm_id: str,
        asset_id: str = "",
        lat: float = 0.0,
        lon: float = 0.0,
        camera_ids: list[str] | tuple[str, ...] = (),
        title: str = "",
    ) -> WallContent:
        """Only `alarm_id` is required: the backend fills the rest from the alarm."""
        return cls(
            "alarm",
            alarm_id=alarm_id,
            focus_asset_id=asset_id,
            lat=lat,
            lon=lon,
            camera_ids=tuple(camera_ids),
            title=title,
        )

    @classmethod
    def incident(
        cls,
        incident_id: str,
        lat: float = 0.0,
        lon: float = 0.0,
        camera_ids: list[str] | tuple[str, ...] = (),
        title: str = "",
    ) -> WallContent:
        """Only `incident_id` is required: the backend fills the rest from the incident, routes included."""
        return cls(
            "incident", incident_id=incident_id, lat=lat, lon=lon, camera_ids=tuple(camera_ids), title=title
        )

    @classmethod
    def clear(cls) -> WallContent:
        return cls("clear")

    @property
    def idle(self) -> bool:
        """Nothing to show: the wall's name and "waiting for content"."""
        return self.kind in ("", "clear")


@dataclass(frozen=True, slots=True)
class WallState:
    """One wall as every console sees it."""

    name: str
    online: bool
    content: WallContent
    display: str  # the attached (or last) display's host / console
    last_seen: float  # unix seconds: when a display last attached or left


def summary(content: WallContent, name_of: Callable[[str], str] = str) -> str:
    """What a wall shows, in a few words (panel rows, the wall's caption); `name_of` turns asset
    ids into names."""
    k = content.kind
    if k == "camera":
        return f"Camera · {name_of(content.camera_id)}"
    if k == "mosaic":
        n = sum(1 for c in content.camera_ids if c)
        shape = content.layout or f"{content.rows}×{content.columns}"
        return f"Mosaic · {content.name or 'view'} · {shape}, {n} camera{'s' if n != 1 else ''}"
    if k == "map":
        focus = f" · {name_of(content.focus_asset_id)}" if content.focus_asset_id else ""
        return f"Map{focus} · zoom {content.zoom:g}"
    if k == "alarm":
        return f"Alarm · {content.title or content.alarm_id}"
    if k == "incident":
        return f"Incident · {content.title or content.incident_id}"
    return "Nothing (waiting for content)"
