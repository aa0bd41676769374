"""The wall service: consoles watch every wall and push content; a wall display attaches under its
name and receives what to show. All on the core's channel (its interceptor adds the credentials);
these calls may be asked for before the client starts, and wait for a login."""

from __future__ import annotations

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client import convert
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.streams import Resume, StreamEvent, StreamState
from vigie.app.wall.content import WallContent, WallState
from vigie.v1 import wall_pb2, wall_pb2_grpc

# A display's final answers: another display took the wall, or this one may not have it.
LINK_ENDINGS = {
    grpc.StatusCode.ABORTED: "replaced",
    grpc.StatusCode.INVALID_ARGUMENT: "refused",
    grpc.StatusCode.PERMISSION_DENIED: "refused",
}


class WallsClient(QObject):
    sig_walls = Signal(object)  # list[WallState], sorted by name: every wall, after each change
    sig_result = Signal(bool, str)  # a push: done?, what happened (or why not)
    sig_content = Signal(str, object)  # wall name, WallContent: what its display must show now
    # An attached wall's link: wall name, state, detail, retry_at (time.monotonic(), 0 if none).
    # States: "attached" | "disconnected" (retrying at retry_at) | "replaced" (another display took
    # the wall: no retry) | "refused" (bad name, not allowed: no retry).
    sig_link = Signal(str, str, str, float)

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core

    def watch(self, on: bool = True) -> None:
        """Follow every wall (sig_walls), reconnecting by itself; False stops."""
        self.core.submit_early(self.core.replace_task("walls", self._watch() if on else None))

    def push(self, wall: str, content: WallContent, what: str = "") -> None:
        """Ask the backend to show `content` on `wall`; answered by sig_result."""
        self.core.submit(self._push(wall, content, what or content.kind))

    def attach(self, name: str, display: str = "") -> None:
        """Be the display of wall `name` (sig_content, sig_link) until detach(name); one client
        may hold several walls (a console's screens in wall mode)."""
        self.core.submit_early(self.core.replace_task(f"wall-display:{name}", self._attach(name, display)))

    def detach(self, name: str) -> None:
        self.core.submit(self.core.replace_task(f"wall-display:{name}", None))

    async def _stub(self) -> wall_pb2_grpc.WallServiceStub:
        return await self.core.ready_stub(wall_pb2_grpc.WallServiceStub)

    async def _watch(self) -> None:
        walls: dict[str, WallState] | None = None

        async def open_call(_resume: Resume) -> grpc.aio.UnaryStreamCall:
            nonlocal walls
            walls = None  # the first message of a stream is every wall
            return (await self._stub()).WatchWalls(wall_pb2.WatchWallsRequest())

        def on_message(msg: wall_pb2.WatchWallsResponse) -> None:
            nonlocal walls
            if msg.HasField("heartbeat"):
                return
            if walls is None:
                walls = {}
            for w in msg.walls:
                walls[w.name] = convert.wall(w)
            for name in msg.deleted:  # DeleteWall
                walls.pop(name, None)
            self.sig_walls.emit([walls[n] for n in sorted(walls)])

        def on_event(e: StreamEvent) -> None:
            if e.state is StreamState.FAILED:
                self.core.sig_error.emit(f"Video walls: {e.detail}")

        stream = self.core.stream(
            "wall watch",
            open_call,
            on_message,
            on_event=on_event,
            final_codes=(grpc.StatusCode.PERMISSION_DENIED,),
        )
        await stream.run()

    def create(self, name: str, displays: list[str]) -> None:
        """CreateWall (supervisors); the outcome comes back on sig_result."""
        self.core.submit(self._create(name, displays))

    async def _create(self, name: str, displays: list[str]) -> None:
        req = wall_pb2.CreateWallRequest(name=name, allowed_displays=displays)
        try:
            await (await self._stub()).CreateWall(req, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_result.emit(False, f"Wall {name!r} not created: {self.core.describe(exc)}")
            return
        self.sig_result.emit(True, f"Wall {name!r} created")

    async def _push(self, wall: str, content: WallContent, what: str) -> None:
        req = wall_pb2.PushRequest(wall=wall, content=convert.wall_content_pb(content))
        try:
            resp = await (await self._stub()).Push(req, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_result.emit(False, f"Not sent to {wall}: {self.core.describe(exc)}")
            return
        where = wall if resp.wall.online else f"{wall} (offline: it shows it when its display is back)"
        self.sig_result.emit(True, f"{what} sent to {where}")

    async def _attach(self, name: str, display: str) -> None:
        shown: WallContent | None = None
        address = self.core.address

        async def open_call(_resume: Resume) -> grpc.aio.UnaryStreamCall:
            return (await self._stub()).AttachWall(wall_pb2.AttachWallRequest(name=name, display=display))

        def on_message(msg: wall_pb2.WallContent) -> None:
            nonlocal shown
            content = convert.wall_content(msg)
            if content != shown:  # the same content again is the stream's heartbeat
                shown = content
                self.sig_content.emit(name, content)

        def on_event(e: StreamEvent) -> None:
            if e.state is StreamState.LIVE:
                self.sig_link.emit(name, "attached", f"{name} on {address}", 0.0)
            elif e.state is StreamState.BACKOFF:
                self.sig_link.emit(name, "disconnected", f"{address}: {e.detail}", e.retry_at)
            elif e.state is StreamState.FAILED and e.code is not None:
                self.sig_link.emit(name, LINK_ENDINGS[e.code], e.detail, 0.0)

        stream = self.core.stream(
            f"wall display {name}", open_call, on_message, on_event=on_event, final_codes=tuple(LINK_ENDINGS)
        )
        await stream.run()
