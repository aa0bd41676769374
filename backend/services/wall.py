"""vigie.v1.WallService: the video walls every console sees and supervisors drive.

Supervisors (or the backend's configuration) create walls and name the displays allowed to attach
each one; those displays attach under the wall's name and receive its content, then each push;
taking a wall over from the display that holds it needs SUPERVISOR. Consoles list and watch the
walls and push content to them. Bad pushes are refused with a reason (and audited); the registry
(backend/domain/walls.py) is only ever touched on the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

import grpc

from vigie.backend.domain.alarms import Alarm, AlarmEngine
from vigie.backend.domain.assets import Kind
from vigie.backend.domain.audit import AuditEntry, AuditSink
from vigie.backend.domain.incidents import Incident
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.domain.walls import (
    MAX_ALARM_CAMERAS,
    MAX_ROUTES,
    AlarmShot,
    CameraShot,
    ClearShot,
    Content,
    IncidentShot,
    InvalidContent,
    MapShot,
    MosaicShot,
    RouteShot,
    Shot,
    TooManyWalls,
    UnknownWall,
    Wall,
    WallRegistry,
    check_name,
    clean_display,
    describe,
    may_attach,
    thin,
    validate,
)
from vigie.backend.security import principal
from vigie.backend.security.principal import Role
from vigie.backend.services.convert import stamp
from vigie.backend.store.alarms_sqlite import AlarmPersister
from vigie.v1 import assets_pb2, wall_pb2, wall_pb2_grpc

log = logging.getLogger(__name__)

PUSH_ROLE = Role.SUPERVISOR  # auth.proto: "SUPERVISOR: ... drives the video wall"
TAKE_OVER_ROLE = Role.SUPERVISOR  # attaching a wall that another display holds


def shot_from_pb(c: wall_pb2.WallContent) -> Shot | None:
    kind = c.WhichOneof("content")
    if kind == "camera":
        return CameraShot(c.camera.camera_id)
    if kind == "mosaic":
        m = c.mosaic
        return MosaicShot(m.name, m.rows, m.columns, tuple(m.camera_ids), m.layout)
    if kind == "map":
        p = c.map
        return MapShot(p.center.lat, p.center.lon, p.zoom, p.focus_asset_id, tuple(p.layers))
    if kind == "alarm":
        a = c.alarm
        return AlarmShot(a.alarm_id, a.asset_id, a.position.lat, a.position.lon, tuple(a.camera_ids), a.title)
    if kind == "incident":
        i = c.incident
        return IncidentShot(
            i.incident_id, i.position.lat, i.position.lon, tuple(i.camera_ids), i.title, i.priority, i.type
        )  # routes: always the incident's own, set when the push is checked
    if kind == "clear":
        return ClearShot()
    return None


def content_to_pb(c: Content, out: wall_pb2.WallContent | None = None) -> wall_pb2.WallContent:
    m = wall_pb2.WallContent() if out is None else out
    s = c.shot
    if isinstance(s, CameraShot):
        m.camera.camera_id = s.camera_id
    elif isinstance(s, MosaicShot):
        m.mosaic.name, m.mosaic.rows, m.mosaic.columns = s.name, s.rows, s.columns
        m.mosaic.camera_ids.extend(s.camera_ids)
        m.mosaic.layout = s.layout
    elif isinstance(s, MapShot):
        m.map.center.lat, m.map.center.lon, m.map.zoom = s.lat, s.lon, s.zoom
        m.map.focus_asset_id = s.focus_asset_id
        m.map.layers.extend(s.layers)
    elif isinstance(s, AlarmShot):
        a = m.alarm
        a.alarm_id, a.asset_id, a.title = s.alarm_id, s.asset_id, s.title
        a.position.lat, a.position.lon = s.lat, s.lon
        a.camera_ids.extend(s.camera_ids)
    elif isinstance(s, IncidentShot):
        i = m.incident
        i.incident_id, i.title, i.priority, i.type = s.incident_id, s.title, s.priority, s.type
        i.position.lat, i.position.lon = s.lat, s.lon
        i.camera_ids.extend(s.camera_ids)
        for r in s.routes:
            mr = i.routes.add(unit_id=r.unit_id, callsign=r.callsign)
            for lat, lon in r.points:
                mr.polyline.add(lat=lat, lon=lon)
            stamp(r.eta_at, mr.eta_at)
    elif isinstance(s, ClearShot):
        m.clear.SetInParent()
    m.pushed_by, m.console, m.version = c.pushed_by, c.console, c.version
    if c.pushed_at:
        stamp(c.pushed_at, m.pushed_at)
    return m


def wall_to_pb(w: Wall, out: wall_pb2.Wall | None = None) -> wall_pb2.Wall:
    m = wall_pb2.Wall() if out is None else out
    m.name, m.online, m.display = w.name, w.online, w.display
    m.allowed_displays.extend(w.allowed)
    content_to_pb(w.content, m.content)
    if w.last_seen:
        stamp(w.last_seen, m.last_seen)
    return m


def _alarm_title(a: Alarm) -> str:
    return f"P{a.priority} · {a.message or a.cause} — {a.asset_name or a.asset_id}"


class PushRefused(Exception):
    def __init__(self, code: grpc.StatusCode, reason: str, result: str) -> None:
        super().__init__(reason)
        self.code, self.reason, self.result = code, reason, result


class WallService(wall_pb2_grpc.WallServiceServicer):
    def __init__(
        self,
        registry: WallRegistry,
        store: AssetStore,
        alarms: AlarmEngine,
        alarm_journal: AlarmPersister,
        audit: AuditSink,
        heartbeat_s: float = 5.0,
    ) -> None:
        self.registry = registry
        self.store = store
        self.alarms = alarms
        self.alarm_journal = alarm_journal
        self.audit = audit
        self.heartbeat_s = heartbeat_s
        # The incidents an incident push names (backend/server.py sets it once the dispatch desk
        # exists); None: incident pushes are refused as unknown.
        self.incident_of: Callable[[str], Incident | None] | None = None

    # --- reading ----------------------------------------------------------------------------

    async def ListWalls(
        self, request: wall_pb2.ListWallsRequest, context: grpc.aio.ServicerContext
    ) -> wall_pb2.ListWallsResponse:
        resp = wall_pb2.ListWallsResponse()
        for w in self.registry.walls():
            wall_to_pb(w, resp.walls.add())
        return resp

    async def WatchWalls(
        self, request: wall_pb2.WatchWallsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[wall_pb2.WatchWallsResponse]:
        reg = self.registry
        seen = reg.revision
        msg = wall_pb2.WatchWallsResponse()
        for w in reg.walls():
            wall_to_pb(w, msg.walls.add())
        yield msg
        while True:
            if await reg.wait_for_change(seen, self.heartbeat_s):
                changed, deleted = reg.changed_after(seen), reg.deleted_after(seen)
                seen = reg.revision
                msg = wall_pb2.WatchWallsResponse(deleted=deleted)
                for w in changed:
                    wall_to_pb(w, msg.walls.add())
                yield msg
            else:
                hb = wall_pb2.WatchWallsResponse(heartbeat=assets_pb2.Heartbeat())
                hb.heartbeat.server_time.GetCurrentTime()
                yield hb

    # --- displays ---------------------------------------------------------------------------

    async def AttachWall(
        self, request: wall_pb2.AttachWallRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[wall_pb2.WallContent]:
        reg = self.registry
        who = principal.current()
        try:
            check_name(request.name)
            # The interceptor cleaned the console name; the peer is the server's own text.
            display = clean_display(request.display) or who.console or context.peer()
        except InvalidContent as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        replaced = reg.get(request.name)
        if replaced is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"no wall named {request.name}: a supervisor creates it, or the backend's --wall",
            )
        assert replaced is not None
        if not may_attach(replaced, display, who.console, who.user):
            log.warning("wall %s: display %r (user %s) is not allowed", request.name, display, who.user)
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"display {display!r} (console {who.console!r}, user {who.user}) is not allowed for wall "
                f"{request.name}",
            )
        own_stale_stream = replaced.holder == who.user and replaced.display == display
        if replaced.online and not own_stale_stream and who.role < TAKE_OVER_ROLE:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"wall {request.name} is held by display {replaced.display!r}: taking it over needs the "
                f"{TAKE_OVER_ROLE.name} role",
            )
        seen = reg.revision
        wall = reg.attach(request.name, display, time.time(), who.user)
        me = wall.attachment
        if replaced.online:
            log.info("wall %s: display %r replaces %r", wall.name, wall.display, replaced.display)
        else:
            log.info("wall %s: display %r attached", wall.name, wall.display)
        try:
            sent_version = wall.content.version
            sent_at = time.monotonic()
            yield content_to_pb(wall.content)
            while True:
                wait = sent_at + self.heartbeat_s - time.monotonic()
                await reg.wait_for_change(seen, wait)
                seen = reg.revision
                current = reg.get(request.name)
                if current is None:
                    await context.abort(grpc.StatusCode.NOT_FOUND, f"wall {request.name} was deleted")
                assert current is not None
                wall = current
                if not may_attach(wall, display, who.console, who.user):
                    await context.abort(
                        grpc.StatusCode.PERMISSION_DENIED,
                        f"display {display!r} is no longer allowed for wall {request.name}",
                    )
                if wall.attachment != me:
                    await context.abort(
                        grpc.StatusCode.ABORTED,
                        f"wall {request.name} was taken over by display {wall.display!r}",
                    )
                # A new push, or the current content again as a heartbeat on a quiet stream.
                if wall.content.version != sent_version or time.monotonic() - sent_at >= self.heartbeat_s:
                    sent_version, sent_at = wall.content.version, time.monotonic()
                    yield content_to_pb(wall.content)
        finally:
            if reg.detach(request.name, me, time.time()):
                log.info("wall %s: display %r left", request.name, display)

    # --- creating and deleting (SUPERVISOR, see rules.py) ---------------------------------------

    async def CreateWall(
        self, request: wall_pb2.CreateWallRequest, context: grpc.aio.ServicerContext
    ) -> wall_pb2.CreateWallResponse:
        who = principal.current()
        allowed = list(request.allowed_displays)
        target = request.name[:64]
        detail = (
            "allowed " + ", ".join(repr(a[:64]) for a in allowed[:8]) + (" …" if len(allowed) > 8 else "")
        )
        try:
            existed = self.registry.get(request.name) is not None
            wall = self.registry.create(request.name, allowed)
        except InvalidContent as exc:
            self._audit(who.user, who.console, target, "invalid", str(exc), "wall.create")
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except TooManyWalls:
            reason = f"this backend holds at most {self.registry.max_walls} walls: delete one first"
            self._audit(who.user, who.console, target, "refused", reason, "wall.create")
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, reason)
        self._audit(
            who.user, who.console, wall.name, "ok", ("updated, " if existed else "") + detail, "wall.create"
        )
        return wall_pb2.CreateWallResponse(wall=wall_to_pb(wall))

    async def DeleteWall(
        self, request: wall_pb2.DeleteWallRequest, context: grpc.aio.ServicerContext
    ) -> wall_pb2.DeleteWallResponse:
        who = principal.current()
        try:
            wall = self.registry.delete(request.name)
        except UnknownWall:
            self._audit(who.user, who.console, request.name[:64], "not_found", "", "wall.delete")
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no wall named {request.name[:64]!r}")
        self._audit(
            who.user, who.console, wall.name, "ok", f"it showed {describe(wall.content.shot)}", "wall.delete"
        )
        return wall_pb2.DeleteWallResponse()

    # --- pushing ----------------------------------------------------------------------------

    async def Push(
        self, request: wall_pb2.PushRequest, context: grpc.aio.ServicerContext
    ) -> wall_pb2.PushResponse:
        who = principal.current()
        console = who.console  # the interceptor read x-vigie-console (or the login's)
        shot = shot_from_pb(request.content) if request.HasField("content") else None
        try:
            shot = await self._checked(request.wall, shot, who.role)
            wall = self.registry.push(request.wall, shot, who.user, console, time.time())
        except PushRefused as exc:
            self._audit(who.user, console, request.wall, exc.result, f"{exc.reason} ({describe(shot)})")
            await context.abort(exc.code, exc.reason)
        self._audit(who.user, console, request.wall, "ok", f"v{wall.content.version}: {describe(shot)}")
        return wall_pb2.PushResponse(wall=wall_to_pb(wall))

    async def _checked(self, name: str, shot: Shot | None, role: Role) -> Shot:
        """The shot as it will be shown (an alarm completed from the alarm itself), or PushRefused."""
        if role < PUSH_ROLE:
            raise PushRefused(
                grpc.StatusCode.PERMISSION_DENIED,
                f"pushing to a wall needs the {PUSH_ROLE.name} role",
                "denied",
            )
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        if isinstance(shot, AlarmShot):
            if not shot.alarm_id:
                raise PushRefused(invalid, "alarm.alarm_id is required", "invalid")
            shot = await self._complete_alarm(shot)
        elif isinstance(shot, IncidentShot):
            if not shot.incident_id:
                raise PushRefused(invalid, "incident.incident_id is required", "invalid")
            shot = self._complete_incident(shot)
        try:
            check_name(name)
            validate(shot)
        except InvalidContent as exc:
            raise PushRefused(invalid, str(exc), "invalid") from None
        assert shot is not None
        if self.registry.get(name) is None:
            raise PushRefused(
                grpc.StatusCode.NOT_FOUND,
                f"no wall named {name!r}: a supervisor creates it, or the backend's --wall",
                "not_found",
            )
        self._check_assets(shot)
        return shot

    async def _complete_alarm(self, shot: AlarmShot) -> AlarmShot:
        """Missing position, asset, cameras or title come from the alarm (NOT_FOUND if unknown)."""
        alarm = self.alarms.get(shot.alarm_id)
        if alarm is None:
            alarm = (await self.alarm_journal.get_many([shot.alarm_id])).get(shot.alarm_id)
        if alarm is None:
            raise PushRefused(grpc.StatusCode.NOT_FOUND, f"no alarm with id {shot.alarm_id}", "not_found")
        positioned = bool(shot.lat or shot.lon)
        return AlarmShot(
            shot.alarm_id,
            shot.asset_id or alarm.asset_id,
            shot.lat if positioned else alarm.lat,
            shot.lon if positioned else alarm.lon,
            shot.camera_ids or tuple(alarm.camera_ids),
            shot.title or _alarm_title(alarm),
        )

    def _complete_incident(self, shot: IncidentShot) -> IncidentShot:
        """Missing position, title, priority, type or cameras come from the incident, and the
        routes of its units on their way always do (NOT_FOUND if unknown)."""
        inc = self.incident_of(shot.incident_id) if self.incident_of is not None else None
        if inc is None:
            raise PushRefused(
                grpc.StatusCode.NOT_FOUND, f"no incident with id {shot.incident_id[:64]}", "not_found"
            )
        positioned = bool(shot.lat or shot.lon)
        return IncidentShot(
            inc.id,
            shot.lat if positioned else inc.lat,
            shot.lon if positioned else inc.lon,
            shot.camera_ids or inc.camera_ids[:MAX_ALARM_CAMERAS],
            shot.title or f"P{inc.priority} · {inc.type.replace('_', ' ')} — {inc.street or inc.id}",
            shot.priority or inc.priority,
            shot.type or inc.type,
            tuple(
                RouteShot(r.unit_id, r.callsign, thin(r.points), r.eta_at) for r in inc.routes[:MAX_ROUTES]
            ),
        )

    def _check_assets(self, shot: Shot) -> None:
        cameras: tuple[str, ...] = ()
        if isinstance(shot, CameraShot):
            cameras = (shot.camera_id,)
        elif isinstance(shot, MosaicShot | AlarmShot | IncidentShot):
            cameras = tuple(c for c in shot.camera_ids if c)
        elif (
            isinstance(shot, MapShot) and shot.focus_asset_id and self.store.get(shot.focus_asset_id) is None
        ):
            raise PushRefused(
                grpc.StatusCode.NOT_FOUND, f"no asset with id {shot.focus_asset_id}", "not_found"
            )
        for cam in cameras:
            asset = self.store.get(cam)
            if asset is None:
                raise PushRefused(grpc.StatusCode.NOT_FOUND, f"no camera with id {cam}", "not_found")
            if asset.kind != Kind.CAMERA:
                raise PushRefused(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{cam} is a {asset.kind.value}, not a camera",
                    "invalid",
                )

    def _audit(
        self, user: str, console: str, wall: str, result: str, detail: str, action: str = "wall.push"
    ) -> None:
        self.audit.record(
            AuditEntry(
                user=user,
                console=console,
                action=action,
                target=wall,
                reason="",
                result=result,
                detail=detail,
            )
        )
