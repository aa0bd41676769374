"""The video walls: which walls exist, what each one shows and whether a display is attached.

No Qt, no gRPC, no protobuf. A wall exists once a supervisor created it (or the backend's
configuration names it) and is kept, content included, when its display goes away (a wall PC
rebooting shows the same picture again). Each wall names the displays allowed to attach it
(`may_attach`); the registry holds at most `max_walls` walls.
Every change bumps one registry-wide revision and wakes the streams waiting for it; the registry
lives on the event loop's thread. Content is checked here (`validate`), so a bad push never
reaches a wall.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_GRID = 8  # rows and columns of a mosaic: a wall of 8x8 tiles is already unreadable
MIN_ZOOM, MAX_ZOOM = 1.0, 20.0
MAX_TEXT = 200  # names and titles
MAX_ALARM_CAMERAS = 16
# An incident's units on their way, on a wall: few enough that every wall's content together stays
# far below a gRPC message (WatchWalls sends all walls at once: 32 x 4 x 500 points ~ 1.3 MB).
MAX_ROUTES = 4
MAX_ROUTE_POINTS = 500


def thin(
    points: tuple[tuple[float, float], ...], most: int = MAX_ROUTE_POINTS
) -> tuple[tuple[float, float], ...]:
    """At most `most` of the points, evenly picked, the first and last kept (a drawn route)."""
    if len(points) <= most:
        return points
    step = (len(points) - 1) / (most - 1)
    return tuple(points[round(i * step)] for i in range(most))


MAX_LAYERS = 32
MAX_DISPLAY_CHARS = 64  # a display or console name, as shown in logs, tooltips and the audit trail
MAX_ALLOWED_DISPLAYS = 32
MAX_WALLS = 32  # default cap on the number of walls (vigie-backend --max-walls)
MAX_DELETED_KEPT = 1024  # deletions remembered for watchers (they read them within a heartbeat)
USER_PREFIX = "user:"  # an allowed "display" that names an account rather than a display


class InvalidContent(ValueError):
    """The content cannot be shown as asked; the message says why (for INVALID_ARGUMENT)."""


class UnknownWall(KeyError):
    """No wall of this name was created."""


class TooManyWalls(Exception):
    """The registry already holds its maximum number of walls."""


@dataclass(frozen=True, slots=True)
class CameraShot:
    camera_id: str


@dataclass(frozen=True, slots=True)
class MosaicShot:
    name: str
    rows: int
    columns: int
    camera_ids: tuple[str, ...]  # row by row (or in `layout`'s slot order); "" leaves a tile empty
    layout: str = ""  # a console layout with a big tile ("1+5"), else a plain grid


@dataclass(frozen=True, slots=True)
class MapShot:
    lat: float
    lon: float
    zoom: float
    focus_asset_id: str = ""
    layers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlarmShot:
    alarm_id: str
    asset_id: str
    lat: float
    lon: float
    camera_ids: tuple[str, ...]
    title: str


@dataclass(frozen=True, slots=True)
class RouteShot:
    """A unit's drive to the incident as it was at push time."""

    unit_id: str
    callsign: str
    points: tuple[tuple[float, float], ...]
    eta_at: float


@dataclass(frozen=True, slots=True)
class IncidentShot:
    incident_id: str
    lat: float
    lon: float
    camera_ids: tuple[str, ...]
    title: str
    priority: int = 0
    type: str = ""
    routes: tuple[RouteShot, ...] = ()


@dataclass(frozen=True, slots=True)
class ClearShot:
    """Nothing: the wall shows its name, waiting for content."""


Shot = CameraShot | MosaicShot | MapShot | AlarmShot | IncidentShot | ClearShot


@dataclass(frozen=True, slots=True)
class Content:
    shot: Shot | None = None  # None: nothing was ever pushed
    pushed_by: str = ""
    console: str = ""
    pushed_at: float = 0.0  # unix seconds
    version: int = 0  # increases with every push to the wall


@dataclass(frozen=True, slots=True)
class Wall:
    name: str
    online: bool = False
    content: Content = Content()
    display: str = ""  # the attached (or last) display's host / console
    last_seen: float = 0.0  # when a display last attached or detached
    revision: int = 0  # the registry revision of this wall's last change
    attachment: int = 0  # which display holds the wall (0: none); a newer attach replaces it
    allowed: tuple[str, ...] = ()  # display / console names, or "user:NAME", that may attach it
    holder: str = ""  # the user whose display holds the wall now ("" when none)


def check_name(name: str) -> None:
    if not NAME_RE.fullmatch(name):
        shown = name if len(name) <= 64 else name[:64] + "…"
        raise InvalidContent(f"wall name {shown!r} must be 1-64 of A-Z a-z 0-9 . _ -")


def clean_display(value: str) -> str:
    """A display or console name fit for logs, tooltips and the audit trail: control and other
    unprintable characters removed, surrounding spaces stripped. Raises InvalidContent past
    MAX_DISPLAY_CHARS (after cleaning)."""
    cleaned = "".join(c for c in value if c.isprintable()).strip()
    if len(cleaned) > MAX_DISPLAY_CHARS:
        raise InvalidContent(f"display name is longer than {MAX_DISPLAY_CHARS} characters")
    return cleaned


def check_allowed(displays: Iterable[str]) -> tuple[str, ...]:
    """The allowed displays of a wall, checked (1..MAX_ALLOWED_DISPLAYS printable names of
    1-64 characters), without duplicates, in the given order; raises InvalidContent."""
    given = list(displays)
    if len(given) > MAX_ALLOWED_DISPLAYS:
        raise InvalidContent(f"a wall allows at most {MAX_ALLOWED_DISPLAYS} displays")
    out: list[str] = []
    for d in given:
        if not d or len(d) > MAX_DISPLAY_CHARS or not d.isprintable() or d != d.strip():
            raise InvalidContent(
                f"allowed display {d[:MAX_DISPLAY_CHARS]!r} must be 1-{MAX_DISPLAY_CHARS} printable "
                "characters without surrounding spaces"
            )
        if d not in out:
            out.append(d)
    if not out:
        raise InvalidContent("a wall needs at least one allowed display")
    return tuple(out)


def may_attach(wall: Wall, display: str, console: str, user: str) -> bool:
    """Is this display allowed for the wall? Its display name or its console name is listed, or
    its account ("user:NAME"). Display and console names are what the client says; only a
    "user:" entry names an authenticated identity."""
    allowed = wall.allowed
    return bool(
        (display and display in allowed)
        or (console and console in allowed)
        or (user and USER_PREFIX + user in allowed)
    )


def _check_position(lat: float, lon: float, what: str) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidContent(f"{what} ({lat}, {lon}) is not a WGS84 position")
    if lat == 0 and lon == 0:
        raise InvalidContent(f"{what} is missing (0, 0)")


def _check_text(value: str, what: str) -> None:
    if len(value) > MAX_TEXT:
        raise InvalidContent(f"{what} is longer than {MAX_TEXT} characters")


def validate(shot: Shot | None) -> None:
    """Raise InvalidContent unless the shot can be shown (ids present, sane grid, zoom, position)."""
    if shot is None:
        raise InvalidContent("content is required (camera, mosaic, map, alarm, incident or clear)")
    if isinstance(shot, CameraShot):
        if not shot.camera_id:
            raise InvalidContent("camera.camera_id is required")
    elif isinstance(shot, MosaicShot):
        if not (1 <= shot.rows <= MAX_GRID and 1 <= shot.columns <= MAX_GRID):
            raise InvalidContent(
                f"mosaic is {shot.rows}x{shot.columns}: rows and columns must be 1..{MAX_GRID}"
            )
        if len(shot.camera_ids) > shot.rows * shot.columns:
            raise InvalidContent(
                f"mosaic has {len(shot.camera_ids)} cameras for {shot.rows * shot.columns} tiles"
            )
        if not any(shot.camera_ids):
            raise InvalidContent("mosaic.camera_ids has no camera")
        _check_text(shot.name, "mosaic.name")
        if len(shot.layout) > 32:
            raise InvalidContent("mosaic.layout is longer than 32 characters")
    elif isinstance(shot, MapShot):
        _check_position(shot.lat, shot.lon, "map.center")
        if not (math.isfinite(shot.zoom) and MIN_ZOOM <= shot.zoom <= MAX_ZOOM):
            raise InvalidContent(f"map.zoom {shot.zoom} must be {MIN_ZOOM:g}..{MAX_ZOOM:g}")
        if len(shot.layers) > MAX_LAYERS or any(not 0 < len(x) <= 64 for x in shot.layers):
            raise InvalidContent(f"map.layers: at most {MAX_LAYERS} names of 1-64 characters")
    elif isinstance(shot, AlarmShot):
        if not shot.alarm_id:
            raise InvalidContent("alarm.alarm_id is required")
        _check_position(shot.lat, shot.lon, "alarm.position")
        if len(shot.camera_ids) > MAX_ALARM_CAMERAS or not all(shot.camera_ids):
            raise InvalidContent(f"alarm.camera_ids: at most {MAX_ALARM_CAMERAS}, none empty")
        _check_text(shot.title, "alarm.title")
    elif isinstance(shot, IncidentShot):
        if not shot.incident_id or len(shot.incident_id) > 64:
            raise InvalidContent("incident.incident_id is required (64 characters at most)")
        _check_position(shot.lat, shot.lon, "incident.position")
        if len(shot.camera_ids) > MAX_ALARM_CAMERAS or not all(shot.camera_ids):
            raise InvalidContent(f"incident.camera_ids: at most {MAX_ALARM_CAMERAS}, none empty")
        _check_text(shot.title, "incident.title")
        if len(shot.routes) > MAX_ROUTES or any(len(r.points) > MAX_ROUTE_POINTS for r in shot.routes):
            raise InvalidContent(f"incident.routes: at most {MAX_ROUTES} of {MAX_ROUTE_POINTS} points")


def describe(shot: Shot | None) -> str:
    """One line saying what a wall shows (audit detail, logs)."""
    if shot is None or isinstance(shot, ClearShot):
        return "nothing (cleared)" if shot is not None else "nothing"
    if isinstance(shot, CameraShot):
        return f"camera {shot.camera_id}"
    if isinstance(shot, MosaicShot):
        cams = ", ".join(c for c in shot.camera_ids if c)
        shape = shot.layout or f"{shot.rows}x{shot.columns}"
        return f"mosaic {shot.name!r} {shape}: {cams}"
    if isinstance(shot, MapShot):
        focus = f" focus {shot.focus_asset_id}" if shot.focus_asset_id else ""
        return f"map {shot.lat:.5f},{shot.lon:.5f} zoom {shot.zoom:g}{focus}"
    if isinstance(shot, IncidentShot):
        return f"incident {shot.incident_id} {shot.title!r} at {shot.lat:.5f},{shot.lon:.5f}"
    return f"alarm {shot.alarm_id} {shot.title!r} at {shot.lat:.5f},{shot.lon:.5f}"


class WallRegistry:
    """Every wall by name; `listener` gets all walls after each change (to persist them).

    `configured` (name -> allowed displays, from the backend's configuration) creates those walls,
    or sets their allowed displays over what was saved; they count towards `max_walls`."""

    def __init__(
        self,
        walls: Iterable[Wall] = (),
        listener: Callable[[list[Wall]], None] | None = None,
        configured: dict[str, tuple[str, ...]] | None = None,
        max_walls: int = MAX_WALLS,
    ) -> None:
        # Walls read back from disk have no display: one has to attach again. Their display names
        # may come from an older backend that did not clean them.
        self._walls = {
            w.name: replace(
                w,
                online=False,
                attachment=0,
                holder="",
                revision=0,
                display=clean_display(w.display[:MAX_DISPLAY_CHARS]),
            )
            for w in walls
        }
        for name, allowed in (configured or {}).items():
            check_name(name)
            self._walls[name] = replace(self._walls.get(name) or Wall(name), allowed=check_allowed(allowed))
        self.max_walls = max_walls
        self._listener = listener
        self._revision = 0
        self._attachments = 0
        self._deleted: dict[str, int] = {}  # wall name -> the revision that deleted it
        self._changed: asyncio.Event | None = None

    @property
    def revision(self) -> int:
        return self._revision

    def walls(self) -> list[Wall]:
        return [self._walls[n] for n in sorted(self._walls)]

    def get(self, name: str) -> Wall | None:
        return self._walls.get(name)

    def changed_after(self, revision: int) -> list[Wall]:
        return [w for w in self.walls() if w.revision > revision]

    def create(self, name: str, allowed: Iterable[str]) -> Wall:
        """Create the wall, or set the allowed displays of an existing one (content kept).
        Raises InvalidContent, or TooManyWalls for a new wall past `max_walls`."""
        check_name(name)
        checked = check_allowed(allowed)
        old = self._walls.get(name)
        if old is None and len(self._walls) >= self.max_walls:
            raise TooManyWalls(name)
        return self._commit(replace(old or Wall(name), allowed=checked))

    def delete(self, name: str) -> Wall:
        """Forget the wall (its display's stream notices at the next change); raises UnknownWall."""
        wall = self._walls.pop(name, None)
        if wall is None:
            raise UnknownWall(name)
        self._revision += 1
        self._deleted[name] = self._revision
        while len(self._deleted) > MAX_DELETED_KEPT:
            del self._deleted[next(iter(self._deleted))]
        self._changed_now()
        return wall

    def deleted_after(self, revision: int) -> list[str]:
        """The walls deleted since `revision` (and not created again)."""
        return sorted(n for n, r in self._deleted.items() if r > revision and n not in self._walls)

    def attach(self, name: str, display: str, now: float, user: str = "") -> Wall:
        """A display takes the wall, replacing any display attached before. Raises UnknownWall
        (the caller has checked that this display may attach it)."""
        check_name(name)
        old = self._walls.get(name)
        if old is None:
            raise UnknownWall(name)
        self._attachments += 1
        return self._commit(
            replace(
                old, online=True, display=display, last_seen=now, attachment=self._attachments, holder=user
            )
        )

    def detach(self, name: str, attachment: int, now: float) -> bool:
        """The display holding `attachment` went away; False when a newer one had replaced it."""
        wall = self._walls.get(name)
        if wall is None or wall.attachment != attachment:
            return False
        self._commit(replace(wall, online=False, last_seen=now, attachment=0, holder=""))
        return True

    def push(self, name: str, shot: Shot, user: str, console: str, now: float) -> Wall:
        """Show `shot` on the wall (kept while no display is attached); raises InvalidContent or UnknownWall."""
        check_name(name)
        validate(shot)
        wall = self._walls.get(name)
        if wall is None:
            raise UnknownWall(name)
        content = Content(shot, user, console, now, wall.content.version + 1)
        return self._commit(replace(wall, content=content))

    def _commit(self, wall: Wall) -> Wall:
        self._revision += 1
        wall = replace(wall, revision=self._revision)
        self._walls[wall.name] = wall
        self._changed_now()
        return wall

    def _changed_now(self) -> None:
        """Wake the streams waiting for a change, and persist."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        if self._listener is not None:
            self._listener(self.walls())

    async def wait_for_change(self, revision: int, timeout: float) -> bool:
        """True once the registry is past `revision`; False after `timeout` seconds without."""
        if self._revision > revision:
            return True
        if self._changed is None:
            self._changed = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, timeout)):
                await self._changed.wait()
        return self._revision > revision
