"""The playback service for the console: recorded spans, Play streams, the city at a moment, exports.

Protobuf stops here: callers get app/client/playback_types.py dataclasses through queued signals,
and frames through a sink called on the client's loop thread (as live video does)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from PySide6.QtCore import QObject, Signal

from vigie.app.client import convert
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.playback_types import (
    CityAlarm,
    CityAsset,
    CityAt,
    ExportProgress,
    Marker,
    PlayState,
    Span,
    Spans,
)
from vigie.v1 import alarms_pb2, assets_pb2, playback_pb2, playback_pb2_grpc, video_pb2

# (jpeg, capture unix time, control id), called off the GUI thread
PlaySink = Callable[[bytes, float, int], None]
MAX_PAGES = 20  # GetCityState pages read for one moment (2,000 assets each)
END_GRACE_S = 2.0  # a Play call not ended by the backend this long after its half-close is cancelled


def _ts(t: float) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(int(t * 1e9))
    return out


def _range(start: float, end: float) -> playback_pb2.TimeRange:
    return playback_pb2.TimeRange(start=_ts(start), end=_ts(end))


class _Player:
    """One Play stream: controls queued from any thread, answers to a sink and a signal.

    It ends by ending its controls: gRPC half-closes the call and the backend ends it with OK. A
    cancelled stream leaves native memory behind in gRPC's core (docs/soak.md), so the call is
    cancelled only when the backend has not ended it END_GRACE_S after that."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[playback_pb2.PlayRequest | None] = asyncio.Queue()
        self.control_id = 0
        self.closed = False  # set on the caller's thread: nothing more reaches the sink or signals
        self.call: grpc.aio.StreamStreamCall | None = None
        self.outcome = ""  # "ended" (OK after the half-close), "cancelled", or the error's code

    def send(self, **control: object) -> None:
        self.control_id += 1
        msg = playback_pb2.PlayRequest(control_id=self.control_id, **control)  # type: ignore[arg-type]
        self.loop.call_soon_threadsafe(self.queue.put_nowait, msg)

    def end(self) -> None:
        self.closed = True
        self.loop.call_soon_threadsafe(self.queue.put_nowait, None)

    async def controls(self) -> AsyncIterator[playback_pb2.PlayRequest]:
        while (msg := await self.queue.get()) is not None:
            yield msg
        self.loop.call_later(END_GRACE_S, self._give_up)  # the half-close goes out now

    def _give_up(self) -> None:
        if self.call is not None and not self.call.done():
            self.call.cancel()


class PlaybackClient(QObject):
    sig_spans = Signal(object)  # Spans
    sig_state = Signal(str, object)  # player key, PlayState
    sig_gap = Signal(str, float, float)  # player key, gap start, end (0: no recording after)
    sig_end = Signal(str, float)  # player key, position
    sig_city = Signal(object)  # CityAt
    sig_export = Signal(object)  # ExportProgress
    sig_export_saved = Signal(str, str)  # export id, folder written
    sig_failed = Signal(str, str)  # what ("play:KEY", "export", "city", "spans"), why

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core
        self._players: dict[str, _Player] = {}
        self._made = 0

    def _stub(self, video: bool = False) -> playback_pb2_grpc.PlaybackServiceStub:
        return self.core.stub(playback_pb2_grpc.PlaybackServiceStub, video=video)

    # ---- spans and the city ------------------------------------------------------------------

    def request_spans(self, camera_id: str, start: float, end: float) -> None:
        self.core.submit(self._spans(camera_id, start, end))

    def request_city(self, t: float) -> None:
        """The city at `t` (assets as they were, alarms open then): answered by sig_city."""
        self.core.submit(self.core.replace_task("playback:city", self._city(t)))

    async def _spans(self, camera_id: str, start: float, end: float) -> None:
        req = playback_pb2.ListSpansRequest(camera_id=camera_id, range=_range(start, end))
        try:
            resp = await self._stub().ListSpans(req, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.sig_failed.emit("spans", self.core.describe(exc))
            return
        kinds = {playback_pb2.TimelineMarker.ALARM: "alarm", playback_pb2.TimelineMarker.INCIDENT: "incident"}
        self.sig_spans.emit(
            Spans(
                resp.camera_id,
                [Span(convert.seconds(s.start), convert.seconds(s.end), s.protected) for s in resp.spans],
                [
                    Marker(kinds.get(m.kind, "alarm"), convert.seconds(m.time), m.ref_id, m.label, m.priority)
                    for m in resp.markers
                ],
            )
        )

    async def _city(self, t: float) -> None:
        assets: list[CityAsset] = []
        alarms: list[CityAlarm] = []
        token, complete = "", True
        try:
            for _ in range(MAX_PAGES):
                resp = await self._stub().GetCityState(
                    playback_pb2.GetCityStateRequest(time=_ts(t), page_token=token), timeout=UNARY_TIMEOUT
                )
                complete = complete and resp.complete
                assets += [
                    CityAsset(
                        a.id,
                        assets_pb2.Asset.Kind.Name(a.kind),
                        a.name,
                        assets_pb2.Asset.Status.Name(a.status),
                        a.position.lat,
                        a.position.lon,
                    )
                    for a in resp.assets
                ]
                alarms += [
                    CityAlarm(
                        a.id,
                        a.priority,
                        a.message or a.cause,
                        a.asset_id,
                        alarms_pb2.Alarm.State.Name(a.state),
                    )
                    for a in resp.open_alarms
                ]
                token = resp.next_page_token
                if not token:
                    break
        except grpc.aio.AioRpcError as exc:
            self.sig_failed.emit("city", self.core.describe(exc))
            return
        self.sig_city.emit(CityAt(t, assets, alarms, complete))

    # ---- Play ---------------------------------------------------------------------------------

    def open(
        self,
        key: str,
        camera_id: str,
        start: float,
        sink: PlaySink,
        speed: float = 1.0,
        clock_origin: float = 0.0,
        max_fps: float = 10.0,
    ) -> None:
        """Play `camera_id` from `start` under `key` (replacing what that key played)."""
        if (old := self._players.get(key)) is not None:
            old.end()
        player = _Player(self.core.loop)
        self._players[key] = player
        open_msg = playback_pb2.PlayOpen(
            camera_id=camera_id,
            start=_ts(start),
            speed=speed,
            max_fps=max_fps,
            profile=video_pb2.StreamVideoRequest.Profile.Value("SUB"),
        )
        if clock_origin:
            open_msg.clock_origin.CopyFrom(_ts(clock_origin))
        player.send(open=open_msg)
        # Under a name of its own: the key's previous call may still be ending (see _Player).
        self._made += 1
        self.core.submit(self._start(f"playback:{key}#{self._made}", key, player, sink))

    def seek(self, key: str, t: float, clock_origin: float = 0.0) -> None:
        if (p := self._players.get(key)) is not None:
            msg = playback_pb2.PlaySeek(time=_ts(t))
            if clock_origin:
                msg.clock_origin.CopyFrom(_ts(clock_origin))
            p.send(seek=msg)

    def set_speed(self, key: str, speed: float, clock_origin: float = 0.0) -> None:
        """-16..16 (0 pauses); the same origin on every tile keeps them on one clock."""
        if (p := self._players.get(key)) is not None:
            msg = playback_pb2.PlaySpeed(speed=speed)
            if clock_origin:
                msg.clock_origin.CopyFrom(_ts(clock_origin))
            p.send(speed=msg)

    def step(self, key: str, frames: int) -> None:
        if (p := self._players.get(key)) is not None:
            p.send(step=playback_pb2.PlayStep(frames=frames))

    def close(self, key: str) -> None:
        """End what `key` plays: half-closed, ended by the backend (see _Player); nothing of it
        reaches the sink or the signals from now on."""
        if (p := self._players.pop(key, None)) is not None:
            p.end()

    def last_control(self, key: str) -> int:
        p = self._players.get(key)
        return p.control_id if p is not None else -1

    async def _start(self, name: str, key: str, player: _Player, sink: PlaySink) -> None:
        task = self.core.tasks[name] = self.core.spawn(self._play(key, player, sink))
        task.add_done_callback(lambda _t: self.core.forget_task(name))

    def player(self, key: str) -> _Player | None:
        return self._players.get(key)

    async def _play(self, key: str, player: _Player, sink: PlaySink) -> None:
        await self.core.logged_in.wait()
        if player.closed:  # closed before it was logged in: no call at all
            return
        call = player.call = self._stub(video=True).Play(player.controls())
        try:
            async for msg in call:
                if player.closed:  # late answers to a closed player (the half-close is on its way)
                    continue
                event = msg.WhichOneof("event")
                if event == "frame":
                    sink(msg.frame.jpeg, convert.seconds(msg.frame.capture_time), msg.control_id)
                elif event == "state":
                    s = msg.state
                    state = PlayState(
                        convert.seconds(s.position), s.speed, convert.seconds(s.server_time), msg.control_id
                    )
                    self.sig_state.emit(key, state)
                elif event == "gap":
                    end = convert.seconds(msg.gap.end) if msg.gap.HasField("end") else 0.0
                    self.sig_gap.emit(key, convert.seconds(msg.gap.start), end)
                elif event == "end":
                    self.sig_end.emit(key, convert.seconds(msg.end.position))
            player.outcome = "ended"
        except grpc.aio.AioRpcError as exc:
            player.outcome = "cancelled" if exc.code() == grpc.StatusCode.CANCELLED else exc.code().name
            if exc.code() != grpc.StatusCode.CANCELLED and not player.closed:
                self.sig_failed.emit(f"play:{key}", self.core.describe(exc))
        except asyncio.CancelledError:  # the session stops
            player.outcome = "cancelled"
            raise
        finally:
            if not call.done():
                call.cancel()

    # ---- export ------------------------------------------------------------------------------

    def export(self, camera_ids: list[str], start: float, end: float, reason: str, folder: Path) -> None:
        """Start an export, follow it (sig_export) and download it into `folder` (sig_export_saved)."""
        req = playback_pb2.StartExportRequest(
            camera_ids=camera_ids,
            range=_range(start, end),
            reason=reason,
            idempotency_key=os.urandom(8).hex(),
        )
        self.core.submit(self.core.replace_task("playback:export", self._export(req, folder)))

    async def _export(self, req: playback_pb2.StartExportRequest, folder: Path) -> None:
        stub = self._stub()
        try:
            job = await stub.StartExport(req, timeout=UNARY_TIMEOUT)
            watch = stub.WatchExport(playback_pb2.WatchExportRequest(export_id=job.export_id))
            async for update in watch:
                job = update
                self.sig_export.emit(_progress(job))
                if job.state in (playback_pb2.ExportJob.DONE, playback_pb2.ExportJob.FAILED):
                    break
            if job.state != playback_pb2.ExportJob.DONE:
                return
            await self._download(stub, job.export_id, folder)
        except grpc.aio.AioRpcError as exc:
            self.sig_failed.emit("export", self.core.describe(exc))
            return
        except OSError as exc:
            self.sig_failed.emit("export", f"cannot write {folder}: {exc}")
            return
        self.sig_export_saved.emit(job.export_id, str(folder))

    async def _download(
        self, stub: playback_pb2_grpc.PlaybackServiceStub, export_id: str, folder: Path
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, object] = {}
        loop = asyncio.get_running_loop()
        try:
            async for chunk in stub.DownloadExport(playback_pb2.DownloadExportRequest(export_id=export_id)):
                name = os.path.basename(chunk.name)  # never outside the chosen folder
                if name not in files:
                    files[name] = open(folder / name, "wb")  # noqa: SIM115 - closed below
                f = files[name]
                await loop.run_in_executor(None, _write_at, f, chunk.offset, chunk.data)
                if chunk.last:
                    await loop.run_in_executor(None, _close, files.pop(name))
        finally:
            for f in files.values():
                with contextlib.suppress(OSError):
                    f.close()  # type: ignore[attr-defined]


def _write_at(f: object, offset: int, data: bytes) -> None:
    f.seek(offset)  # type: ignore[attr-defined]
    f.write(data)  # type: ignore[attr-defined]


def _close(f: object) -> None:
    f.flush()  # type: ignore[attr-defined]
    os.fsync(f.fileno())  # type: ignore[attr-defined]
    f.close()  # type: ignore[attr-defined]


def _progress(job: playback_pb2.ExportJob) -> ExportProgress:
    return ExportProgress(
        job.export_id,
        playback_pb2.ExportJob.State.Name(job.state),
        job.progress,
        [f.name for f in job.files],
        job.error,
    )
