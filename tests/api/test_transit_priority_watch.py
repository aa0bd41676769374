"""WatchPriority keeps the resume contract (backend/services/resumable.py) on a real backend whose
transit runs 50 times faster than real time with TSP on at every junction of the lines: a
snapshot of the requests checked in, then every event once and in order; a reconnect after the
last sequence seen loses and repeats nothing; a position ahead of the server is refused; a
restarted backend (a new simulation) has a new epoch and tells the client to resync."""

from __future__ import annotations

import uuid

import grpc
import pytest

from tests.conftest import BackendProcess, open_channel
from vigie.v1 import commands_pb2, commands_pb2_grpc, transit_pb2, transit_pb2_grpc

PE = transit_pb2.PriorityEvent


@pytest.fixture(scope="module")
def busy():
    b = BackendProcess("--seed", "7", "--lights", "0", "--transit-speed", "50").start()
    ch = open_channel(b.address, "supervisor")
    transit = transit_pb2_grpc.TransitServiceStub(ch)
    junctions = [
        j.junction_id for j in transit.GetTspConfig(transit_pb2.GetTspConfigRequest(), timeout=10).junctions
    ]
    commands = commands_pb2_grpc.CommandServiceStub(ch)
    r = commands.Execute(
        commands_pb2.ExecuteRequest(
            idempotency_key=uuid.uuid4().hex, asset_ids=junctions, action=commands_pb2.SIGNAL_BUS_PRIORITY_ON
        ),
        timeout=10,
    )
    for status in commands.WatchCommand(
        commands_pb2.WatchCommandRequest(command_id=r.status.command_id), timeout=60
    ):
        last = status
    # The city's signals refuse a few commands (3 %) or are in fault: most are on.
    on = [t for t in last.targets if t.stage == commands_pb2.CONFIRMED]
    assert len(on) >= 0.8 * len(junctions), last
    yield b, transit, junctions
    ch.close()
    b.stop()


class Checker:
    """Follows one client's view: the position, the epoch, every event seen."""

    def __init__(self) -> None:
        self.sequence = 0
        self.epoch = ""
        self.events: list[transit_pb2.PriorityEvent] = []
        self.snapshot: list[transit_pb2.PriorityEvent] = []

    def feed(self, msg: transit_pb2.WatchPriorityResponse) -> str:
        kind = msg.WhichOneof("event")
        assert not self.epoch or msg.epoch == self.epoch, "the epoch changed mid-stream"
        self.epoch = msg.epoch
        if kind == "snapshot":
            self.snapshot += msg.snapshot.active
        elif kind == "events":
            for e in msg.events.events:
                assert e.sequence == self.sequence + 1, f"gap or repeat: {self.sequence} then {e.sequence}"
                self.sequence = e.sequence
                self.events.append(e)
        assert kind == "resync_needed" or msg.sequence >= self.sequence
        if kind != "resync_needed":
            self.sequence = msg.sequence
        return kind or ""

    def read(self, stream, count: int) -> None:
        goal = len(self.events) + count
        for msg in stream:
            self.feed(msg)
            if len(self.events) >= goal:
                return
        raise AssertionError("the stream ended")


def watch(transit, after: int = 0, epoch: str = "", junctions=(), timeout: float = 60):
    req = transit_pb2.WatchPriorityRequest(after_sequence=after, epoch=epoch, junction_ids=list(junctions))
    return transit.WatchPriority(req, timeout=timeout)


def test_snapshot_then_events_once_and_in_order_across_a_reconnect(busy):
    _, transit, _ = busy
    c = Checker()
    stream = watch(transit)
    assert c.feed(next(stream)) == "snapshot"
    c.read(stream, 40)
    stream.cancel()
    stream = watch(transit, c.sequence, c.epoch)
    c.read(stream, 40)  # the checker fails on any gap or repeat
    stream.cancel()
    kinds = {e.kind for e in c.events}
    assert PE.CHECK_IN in kinds and PE.CHECK_OUT in kinds
    assert kinds & {PE.GRANTED, PE.DENIED}
    for e in c.events:
        assert e.junction_id.startswith("sig-") and e.vehicle_id and e.line_id
        if e.kind == PE.DENIED:
            assert e.reason
        if e.kind == PE.GRANTED:
            assert e.strategy in (transit_pb2.GREEN_EXTENSION, transit_pb2.EARLY_GREEN)


def test_a_junction_filter_sends_only_its_events(busy):
    _, transit, junctions = busy
    # The junctions crossed by the busiest lines, so events come quickly.
    lines = transit.ListLines(transit_pb2.ListLinesRequest(modes=[transit_pb2.BUS]), timeout=10).lines
    wanted = {j for line in lines[:4] for j in line.junction_ids}
    stream = watch(transit, junctions=sorted(wanted))
    next(stream)
    seen: list[transit_pb2.PriorityEvent] = []
    for msg in stream:
        seen += msg.events.events
        if len(seen) >= 10:
            break
    stream.cancel()
    assert {e.junction_id for e in seen} <= wanted


def test_ahead_is_refused_and_a_restart_asks_for_a_resync(busy):
    b, transit, _ = busy
    c = Checker()
    stream = watch(transit)
    c.feed(next(stream))
    stream.cancel()
    with pytest.raises(grpc.RpcError) as e:
        next(watch(transit, c.sequence + 1_000_000, c.epoch))
    assert e.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    b.stop()
    b.start()
    ch = open_channel(b.address, "viewer")
    msg = next(watch(transit_pb2_grpc.TransitServiceStub(ch), max(c.sequence, 1), c.epoch))
    ch.close()
    assert msg.WhichOneof("event") == "resync_needed" and msg.epoch != c.epoch
    assert "epoch" in msg.resync_needed.reason
