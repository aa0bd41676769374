"""Cluster test helpers: backend replicas on a bus, waiting for a log line, the asset stream
checker (etcd's watch guarantees: ordered, unique, no gaps, one epoch) and the stream's position
read straight from JetStream with nats-py (not through the backend)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import nats
import nats.errors
import nats.js.errors

from tests.conftest import BackendProcess, open_channel
from vigie.v1 import alarms_pb2, alarms_pb2_grpc, assets_pb2, assets_pb2_grpc


def replica(bus_url: str, log: Path, *args: str) -> BackendProcess:
    return BackendProcess("--bus", bus_url, "--quiet-city", *args, stderr=log)


def wait_for_line(path: Path, text: str, timeout: float, after: int = 0) -> float:
    """Wait until `text` appears in the file past byte `after`; the monotonic time it was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_bytes()[after:].decode(errors="replace"):
            return time.monotonic()
        time.sleep(0.05)  # a log file has no event to wait on: poll it under the deadline
    tail = path.read_text(errors="replace")[-3000:] if path.exists() else "(no file)"
    raise AssertionError(f"{text!r} not in {path} within {timeout} s; its end:\n{tail}")


def stream_last_seq(url: str, stream: str = "KV_vigie_assets") -> int:
    async def ask() -> int:
        nc = await nats.connect(url, connect_timeout=5)
        try:
            info = await nc.jetstream().stream_info(stream)
            return int(info.state.last_seq)
        finally:
            await nc.close()

    return asyncio.run(ask())


def leader_pid(url: str) -> int | None:
    """The pid of the replica holding the leader lease (its owner is host:pid:nonce), None if
    nobody holds it."""

    async def ask() -> int | None:
        nc = await nats.connect(url, connect_timeout=5)
        try:
            kv = await nc.jetstream().key_value("vigie_lease")
            try:
                entry = await kv.get("leader")
            except nats.js.errors.KeyNotFoundError:
                return None
            return int((entry.value or b"").decode().split(":")[1])
        finally:
            await nc.close()

    return asyncio.run(ask())


def assets_stub(address: str) -> assets_pb2_grpc.AssetServiceStub:
    return assets_pb2_grpc.AssetServiceStub(open_channel(address, user="viewer"))


class StreamReader:
    """Reading a watch into a checker's `feed`, under a deadline (asset and alarm checkers)."""

    def feed(self, msg) -> None:
        raise NotImplementedError

    def read_until(self, stream, cond, timeout: float) -> float:
        """Feed until cond() holds; the monotonic time it did (fails at the deadline)."""
        deadline = time.monotonic() + timeout
        for msg in stream:
            self.feed(msg)
            if cond():
                return time.monotonic()
            assert time.monotonic() < deadline, "condition not reached in time"
        raise AssertionError("stream ended early")

    def read_until_broken(self, stream, timeout: float) -> grpc.StatusCode:
        """Feed what a dying backend still delivers; the status the stream ended with."""
        deadline = time.monotonic() + timeout
        try:
            for msg in stream:
                self.feed(msg)
                assert time.monotonic() < deadline, "the stream of a killed backend went on"
        except grpc.RpcError as exc:
            return exc.code()
        raise AssertionError("the stream ended without an error")


class AssetChecker(StreamReader):
    """Applies a recorded WatchAssets stream and asserts order, uniqueness and no gaps within one
    epoch; `snapshots` counts snapshots (a resume must not reload one)."""

    def __init__(self) -> None:
        self.assets: dict[str, assets_pb2.Asset] = {}
        self.revision = 0
        self.epoch = ""
        self.snapshots = 0
        self.changes = 0
        self.in_snapshot = False

    def feed(self, msg: assets_pb2.WatchAssetsResponse) -> None:
        kind = msg.WhichOneof("event")
        assert kind != "resync_needed", msg.resync_needed.reason
        if self.epoch:
            assert msg.epoch == self.epoch, (msg.epoch, self.epoch)
        self.epoch = msg.epoch
        if kind == "snapshot":
            if not self.in_snapshot:
                self.snapshots += 1
                self.in_snapshot = True
            for a in msg.snapshot.assets:
                assert a.revision <= msg.revision
                self.assets[a.id] = a
            self.revision = msg.revision
            self.in_snapshot = not msg.snapshot.last
        elif kind == "changes":
            assert not self.in_snapshot
            for c in msg.changes.changes:
                assert c.revision == self.revision + 1, (c.revision, self.revision)
                assert c.asset.revision == c.revision
                self.revision = c.revision
                self.assets[c.asset.id] = c.asset
                self.changes += 1
            assert msg.revision == self.revision
        else:
            assert msg.revision == self.revision


def watch(stub: assets_pb2_grpc.AssetServiceStub, after: int = 0, epoch: str = "", timeout: float = 120):
    return stub.WatchAssets(assets_pb2.WatchAssetsRequest(after_revision=after, epoch=epoch), timeout=timeout)


def revision_of(address: str) -> int:
    """The replica's current revision (ListAssets says it)."""
    return assets_stub(address).ListAssets(assets_pb2.ListAssetsRequest(page_size=1), timeout=30).revision


def stream_state(
    urls: list[str], stream: str = "KV_vigie_assets", timeout: float = 60
) -> tuple[int, int, int, str]:
    """(first_seq, last_seq, replicas, leader node) of a stream, asked of the cluster; while it
    elects a new stream leader (a node killed), asked again until `timeout`."""

    async def ask() -> tuple[int, int, int, str]:
        nc = await nats.connect(urls, connect_timeout=5)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    info = await nc.jetstream().stream_info(stream)
                    if info.cluster is None or info.cluster.leader:
                        break
                except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{stream} has no leader after {timeout} s")
                await asyncio.sleep(0.2)  # the cluster electing: asked again under the deadline
            leader = info.cluster.leader if info.cluster is not None else ""
            return info.state.first_seq, info.state.last_seq, info.config.num_replicas or 1, leader or ""
        finally:
            await nc.close()

    return asyncio.run(ask())


def stream_holes(
    urls: list[str], first: int, last: int, stream: str = "KV_vigie_assets", timeout: float = 60
) -> list[int]:
    """Sequences in [first, last] that the stream does not deliver (read with a consumer of our
    own, through the cluster). Just after a node is killed the cluster may answer a fetch with 503
    (the new consumer has no leader yet): the scan then starts a new consumer at the first
    sequence it has not seen, so a batch cut short by the error is read again, not counted as
    holes; it gives up at `timeout`."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    async def scan() -> list[int]:
        nc = await nats.connect(urls, connect_timeout=5)
        deadline = time.monotonic() + timeout
        try:
            holes: list[int] = []
            expected = first
            while expected <= last:
                sub = await nc.jetstream().pull_subscribe(
                    "$KV.vigie_assets.>",
                    stream=stream,
                    config=ConsumerConfig(
                        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                        opt_start_seq=expected,
                        ack_policy=AckPolicy.NONE,
                    ),
                )
                try:
                    while expected <= last:
                        batch = await sub.fetch(5000, timeout=10)
                        for m in batch:
                            seq = m.metadata.sequence.stream
                            holes += range(expected, min(seq, last + 1))
                            expected = max(expected, seq + 1)
                except nats.js.errors.ServiceUnavailableError:
                    if time.monotonic() > deadline:
                        raise
                    # The cluster placing the consumer: asked again under the deadline.
                    await asyncio.sleep(0.2)
                finally:
                    await sub.unsubscribe()
            return holes
        finally:
            await nc.close()

    return asyncio.run(scan())


class AlarmChecker(StreamReader):
    """Applies a recorded WatchAlarms stream and asserts what a console relies on: changes in
    order, each once, without gaps, in one epoch (`snapshots` counts snapshots: a resume must not
    reload one); an alarm id never names two alarms (its source, asset and raise time never
    change); and no condition is raised twice: at no point of the stream do two alarms that are
    not closed (state NORMAL) share a condition, which is the pair (asset id, source key) the
    engine raises for."""

    def __init__(self) -> None:
        self.open: dict[str, alarms_pb2.Alarm] = {}  # id -> latest record, every alarm not NORMAL
        self.by_condition: dict[tuple[str, str], str] = {}  # (asset, source key) -> open alarm id
        self.identity: dict[str, tuple[str, str, int]] = {}  # id -> (asset, source key, raised_at ns)
        self.history: dict[str, list[tuple[int, alarms_pb2.Alarm]]] = {}  # id -> (sequence, record)
        self.sequence = 0
        self.epoch = ""
        self.snapshots = 0
        self.changes = 0
        self.in_snapshot = False

    def _apply(self, a: alarms_pb2.Alarm, sequence: int) -> None:
        ident = (a.asset_id, a.source_key, a.raised_at.ToNanoseconds())
        assert self.identity.setdefault(a.id, ident) == ident, (a.id, self.identity[a.id], ident)
        self.history.setdefault(a.id, []).append((sequence, a))
        condition = (a.asset_id, a.source_key)
        if a.state == alarms_pb2.Alarm.NORMAL:
            self.open.pop(a.id, None)
            if self.by_condition.get(condition) == a.id:
                del self.by_condition[condition]
            return
        other = self.by_condition.setdefault(condition, a.id)
        assert other == a.id, f"raised twice: {condition} is open as {other} and as {a.id}"
        self.open[a.id] = a

    def feed(self, msg: alarms_pb2.WatchAlarmsResponse) -> None:
        kind = msg.WhichOneof("event")
        assert kind != "resync_needed", msg.resync_needed.reason
        if self.epoch:
            assert msg.epoch == self.epoch, (msg.epoch, self.epoch)
        self.epoch = msg.epoch
        if kind == "snapshot":
            if not self.in_snapshot:
                self.snapshots += 1
                self.in_snapshot = True
            for a in msg.snapshot.alarms:
                assert a.sequence <= msg.sequence
                self._apply(a, msg.sequence)
            self.sequence = msg.sequence
            self.in_snapshot = not msg.snapshot.last
        elif kind == "changes":
            assert not self.in_snapshot
            for c in msg.changes.changes:
                assert c.sequence == self.sequence + 1, (c.sequence, self.sequence)
                assert c.alarm.sequence == c.sequence
                self.sequence = c.sequence
                self._apply(c.alarm, c.sequence)
                self.changes += 1
            assert msg.sequence == self.sequence
        else:
            assert msg.sequence == self.sequence


def alarms_stub(address: str, user: str = "viewer") -> alarms_pb2_grpc.AlarmServiceStub:
    return alarms_pb2_grpc.AlarmServiceStub(open_channel(address, user=user))


def watch_alarms(
    stub: alarms_pb2_grpc.AlarmServiceStub, after: int = 0, epoch: str = "", timeout: float = 120
):
    return stub.WatchAlarms(alarms_pb2.WatchAlarmsRequest(after_sequence=after, epoch=epoch), timeout=timeout)


def alarm_sequence_of(address: str) -> int:
    """The replica's current alarm sequence (the first message of a watch says it)."""
    stream = watch_alarms(alarms_stub(address), timeout=30)
    try:
        return next(stream).sequence
    finally:
        stream.cancel()
