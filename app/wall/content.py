"""What a video wall shows, as the console handles it: plain frozen values, made from and turned
into vigie.v1 messages here and nowhere else (the display, models and controllers never see
protobuf)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vigie.v1 import wall_pb2

KINDS = ("camera", "mosaic", "map", "alarm", "clear")


def _ts(t) -> float:  # a protobuf Timestamp
    return t.seconds + t.nanos * 1e-9


@dataclass(frozen=True, slots=True)
class WallContent:
    """One of: a camera, a mosaic, the map, an alarm, or nothing ("" or "clear": the idle screen).

    Fields that a kind does not use stay at their defaults. `pushed_by`, `console`, `pushed_at`
    and `version` are set by the backend (what a console sets there is ignored)."""

    kind: str = ""  # "" (nothing ever pushed) | "camera" | "mosaic" | "map" | "alarm" | "clear"
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
    title: str = ""  # alarm
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
    def clear(cls) -> WallContent:
        return cls("clear")

    @property
    def idle(self) -> bool:
        """Nothing to show: the wall's name and "waiting for content"."""
        return self.kind in ("", "clear")

    # ---- protobuf --------------------------------------------------------------------------

    @classmethod
    def from_pb(cls, m: wall_pb2.WallContent) -> WallContent:
        kind = m.WhichOneof("content") or ""
        common = {
            "pushed_by": m.pushed_by,
            "console": m.console,
            "pushed_at": _ts(m.pushed_at),
            "version": m.version,
        }
        if kind == "camera":
            return cls(kind, camera_id=m.camera.camera_id, **common)
        if kind == "mosaic":
            x = m.mosaic
            return cls(
                kind,
                name=x.name,
                rows=x.rows,
                columns=x.columns,
                camera_ids=tuple(x.camera_ids),
                layout=x.layout,
                **common,
            )
        if kind == "map":
            p = m.map
            return cls(
                kind,
                lat=p.center.lat,
                lon=p.center.lon,
                zoom=p.zoom,
                focus_asset_id=p.focus_asset_id,
                layers=tuple(p.layers),
                **common,
            )
        if kind == "alarm":
            a = m.alarm
            return cls(
                kind,
                alarm_id=a.alarm_id,
                focus_asset_id=a.asset_id,
                lat=a.position.lat,
                lon=a.position.lon,
                camera_ids=tuple(a.camera_ids),
                title=a.title,
                **common,
            )
        return cls(kind, **common)

    def to_pb(self) -> wall_pb2.WallContent:
        """The message to push (the backend sets who, when and the version)."""
        m = wall_pb2.WallContent()
        if self.kind == "camera":
            m.camera.camera_id = self.camera_id
        elif self.kind == "mosaic":
            m.mosaic.name, m.mosaic.rows, m.mosaic.columns = self.name, self.rows, self.columns
            m.mosaic.camera_ids.extend(self.camera_ids)
            m.mosaic.layout = self.layout
        elif self.kind == "map":
            m.map.center.lat, m.map.center.lon, m.map.zoom = self.lat, self.lon, self.zoom
            m.map.focus_asset_id = self.focus_asset_id
            m.map.layers.extend(self.layers)
        elif self.kind == "alarm":
            a = m.alarm
            a.alarm_id, a.asset_id, a.title = self.alarm_id, self.focus_asset_id, self.title
            if self.lat or self.lon:
                a.position.lat, a.position.lon = self.lat, self.lon
            a.camera_ids.extend(self.camera_ids)
        elif self.kind == "clear":
            m.clear.SetInParent()
        return m


@dataclass(frozen=True, slots=True)
class WallState:
    """One wall as every console sees it."""

    name: str
    online: bool
    content: WallContent
    display: str  # the attached (or last) display's host / console
    last_seen: float  # unix seconds: when a display last attached or left

    @classmethod
    def from_pb(cls, w: wall_pb2.Wall) -> WallState:
        return cls(w.name, w.online, WallContent.from_pb(w.content), w.display, _ts(w.last_seen))


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
    return "Nothing (waiting for content)"
