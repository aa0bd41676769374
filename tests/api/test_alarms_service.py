"""AlarmService on real backend processes: gapless streams, resume (also across a restart), journal,
operator actions, error codes, shelf expiry and a flood. No sleeps for synchronisation: deadlines."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from tests.conftest import BackendProcess, open_channel
from vigie.v1 import alarms_pb2, alarms_pb2_grpc, assets_pb2

A = alarms_pb2.Alarm


def stub_for(address: str, user: str = "operator") -> alarms_pb2_grpc.AlarmServiceStub:
    return alarms_pb2_grpc.AlarmServiceStub(open_channel(address, user=user))


@pytest.fixture(scope="module")
def busy() -> Iterator[BackendProcess]:
    """A backend raising 50 synthetic alarms per second on top of the city's own."""
    b = BackendProcess("--alarm-rate", "50", "--seed", "5").start()
    yield b
    b.stop()


class StreamChecker:
    """etcd-style checker: applies a recorded stream and asserts order, uniqueness, no gaps."""

    def __init__(self) -> None:
        self.alarms: dict[str, alarms_pb2.Alarm] = {}
        self.sequence = 0
        self.epoch = ""
        self.changes: list[alarms_pb2.AlarmChange] = []

    def feed(self, msg: alarms_pb2.WatchAlarmsResponse) -> None:
        kind = msg.WhichOneof("event")
        assert kind != "resync_needed", msg.resync_needed.reason
        if self.epoch:
            assert msg.epoch == self.epoch
        self.epoch = msg.epoch
        if kind == "snapshot":
            for a in msg.snapshot.alarms:
                assert a.sequence <= msg.sequence and a.state != A.NORMAL
                self.alarms[a.id] = a
            self.sequence = msg.sequence
        elif kind == "changes":
            for c in msg.changes.changes:
                assert c.sequence == self.sequence + 1, (c.sequence, self.sequence)
                assert c.alarm.sequence == c.sequence
                self.sequence = c.sequence
                self.alarms[c.alarm.id] = c.alarm
                self.changes.append(c)
            assert msg.sequence == self.sequence
        else:
            assert msg.sequence == self.sequence

    def read_snapshot(self, stream) -> None:
        for msg in stream:
            self.feed(msg)
            if msg.snapshot.last:
                return
        raise AssertionError("stream ended inside the snapshot")

    def read_until(self, stream, sequence: int) -> None:
        for msg in stream:
            self.feed(msg)
            if self.sequence >= sequence:
                return
        raise AssertionError("stream ended early")

    def read_until_true(self, stream, cond, timeout: float) -> float:
        """Feed until cond() holds; returns the time it took (fails at the deadline)."""
        t0 = time.monotonic()
        for msg in stream:
            self.feed(msg)
            if cond():
                return time.monotonic() - t0
            assert time.monotonic() - t0 < timeout, "condition not reached in time"
        raise AssertionError("stream ended early")


def watch(stub, after: int = 0, epoch: str = "", timeout: float = 30, max_batch: int = 0):
    """max_batch=1: one change per message, so reading "until sequence N" stops exactly at N."""
    return stub.WatchAlarms(
        alarms_pb2.WatchAlarmsRequest(after_sequence=after, epoch=epoch, max_batch=max_batch), timeout=timeout
    )


def open_alarm(checker: StreamChecker, *states: int) -> alarms_pb2.Alarm:
    for a in checker.alarms.values():
        if a.state in states:
            return a
    raise AssertionError(f"no alarm in states {states}")


def test_snapshot_then_gapless_changes(busy):
    stub = stub_for(busy.address)
    stream = watch(stub)
    c = StreamChecker()
    c.read_snapshot(stream)
    start = c.sequence
    c.read_until(stream, start + 300)
    stream.cancel()
    assert [x.sequence for x in c.changes] == list(range(start + 1, c.sequence + 1))
    assert len({x.sequence for x in c.changes}) == len(c.changes)


def test_resume_after_disconnect_loses_and_repeats_nothing(busy):
    stub = stub_for(busy.address)
    ref = StreamChecker()
    ref_stream = watch(stub, timeout=60)
    ref.read_snapshot(ref_stream)
    start = ref.sequence
    part = StreamChecker()
    part.sequence, part.epoch = start, ref.epoch
    first = watch(stub, start, ref.epoch)
    part.read_until(first, start + 20)
    first.cancel()
    ref.read_until(ref_stream, part.sequence + 200)  # the world moves on while it is away
    ref_stream.cancel()
    resumed = watch(stub, part.sequence, part.epoch)
    part.read_until(resumed, ref.sequence)
    resumed.cancel()
    got = {x.sequence: x.alarm for x in part.changes}
    assert sorted(got) == list(range(start + 1, part.sequence + 1))
    for x in ref.changes:
        assert got[x.sequence] == x.alarm


def test_acknowledgement_reaches_another_client(busy):
    stub_a, stub_b = stub_for(busy.address), stub_for(busy.address, user="viewer")
    b = StreamChecker()
    stream = watch(stub_b)
    b.read_snapshot(stream)
    target = open_alarm(b, A.UNACK_ACTIVE, A.RTN_UNACK)
    resp = stub_a.Acknowledge(
        alarms_pb2.AcknowledgeRequest(alarm_ids=[target.id], operator="alice", comment="on it"), timeout=5
    )
    # Who acknowledged is the logged-in user, whatever the request claims.
    assert resp.alarms[0].acknowledged and resp.alarms[0].acknowledged_by == "operator"
    # A generous deadline: this proves delivery, not speed (bench/ measures latency).
    b.read_until_true(
        stream, lambda: any(x.alarm.id == target.id and x.alarm.acknowledged for x in b.changes), 60.0
    )
    stream.cancel()
    # Idempotent: acknowledging again changes nothing and returns it as is.
    again = stub_for(busy.address, user="supervisor").Acknowledge(
        alarms_pb2.AcknowledgeRequest(alarm_ids=[target.id], operator="bob"), timeout=5
    )
    assert again.alarms[0].acknowledged_by == "operator"


def test_shelve_then_expiry_brings_it_back(busy):
    stub = stub_for(busy.address)
    c = StreamChecker()
    stream = watch(stub)
    c.read_snapshot(stream)
    target = open_alarm(c, A.UNACK_ACTIVE)
    shelved = stub.Shelve(
        alarms_pb2.ShelveRequest(
            alarm_ids=[target.id], duration=Duration(seconds=1), reason="nuisance", operator="op"
        ),
        timeout=5,
    ).alarms[0]
    assert shelved.state == A.SHELVED and shelved.shelve_reason == "nuisance"
    assert shelved.shelved_until.ToNanoseconds() > 0

    def back() -> bool:
        a = c.alarms.get(target.id)
        return a is not None and a.sequence > shelved.sequence and a.state != A.SHELVED

    c.read_until_true(stream, back, 60.0)
    stream.cancel()
    assert c.alarms[target.id].state in (A.UNACK_ACTIVE, A.RTN_UNACK)
    assert not c.alarms[target.id].HasField("shelved_until")
    # Unshelve of an alarm that is not shelved is harmless.
    assert (
        stub.Unshelve(alarms_pb2.UnshelveRequest(alarm_ids=[target.id]), timeout=5).alarms[0].id == target.id
    )


def page_all(stub, **filters) -> list[alarms_pb2.Alarm]:
    out: list[alarms_pb2.Alarm] = []
    token = ""
    while True:
        r = stub.ListAlarms(alarms_pb2.ListAlarmsRequest(page_token=token, **filters), timeout=10)
        out.extend(r.alarms)
        token = r.next_page_token
        if not token:
            return out


def test_journal_filters_and_paging(busy):
    stub = stub_for(busy.address)
    c = StreamChecker()
    stream = watch(stub)
    c.read_snapshot(stream)
    c.read_until(stream, c.sequence + 100)
    stream.cancel()
    end = Timestamp()
    end.GetCurrentTime()
    everything = page_all(stub, end=end, page_size=37)
    total = stub.ListAlarms(alarms_pb2.ListAlarmsRequest(end=end, page_size=1), timeout=5).total_size
    ids = [a.id for a in everything]
    assert len(ids) == len(set(ids)) == total > 100
    keys = [(a.raised_at.ToNanoseconds(), int(a.id[4:])) for a in everything]
    assert keys == sorted(keys, reverse=True)  # newest first
    sample = everything[len(everything) // 2]
    cams = page_all(stub, end=end, kinds=[assets_pb2.Asset.CAMERA], page_size=50)
    assert cams and all(a.asset_kind == assets_pb2.Asset.CAMERA for a in cams)
    assert len(cams) == sum(a.asset_kind == assets_pb2.Asset.CAMERA for a in everything)
    district = page_all(stub, end=end, districts=[sample.district])
    assert district and all(a.district == sample.district for a in district)
    by_asset = page_all(stub, end=end, asset_ids=[sample.asset_id])
    assert sample.id in {a.id for a in by_asset} and all(a.asset_id == sample.asset_id for a in by_asset)
    unacked = page_all(stub, states=[A.UNACK_ACTIVE], page_size=500)
    assert all(a.state == A.UNACK_ACTIVE for a in unacked)
    p1 = page_all(stub, end=end, priorities=[1])
    assert all(a.priority == 1 for a in p1)
    text = page_all(stub, end=end, text="SYNTHETIC")
    assert text and all("synthetic" in a.message.lower() for a in text)
    window = page_all(stub, start=sample.raised_at, end=end)
    assert sample.id in {a.id for a in window}
    assert all(a.raised_at.ToNanoseconds() >= sample.raised_at.ToNanoseconds() for a in window)


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code()


def test_error_codes(busy):
    stub = stub_for(busy.address)
    c = StreamChecker()
    stream = watch(stub)
    c.read_snapshot(stream)
    stream.cancel()
    known = open_alarm(c, A.UNACK_ACTIVE)
    inv = grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: stub.Acknowledge(alarms_pb2.AcknowledgeRequest(), timeout=5)) == inv
    assert (
        code_of(
            lambda: stub.Acknowledge(
                alarms_pb2.AcknowledgeRequest(alarm_ids=[known.id, "alm-nope"]), timeout=5
            )
        )
        == grpc.StatusCode.NOT_FOUND
    )
    journal = page_all(stub, asset_ids=[known.asset_id])
    assert not next(a for a in journal if a.id == known.id).acknowledged  # nothing changed
    for req in (
        alarms_pb2.ShelveRequest(alarm_ids=[known.id], duration=Duration(seconds=60)),
        alarms_pb2.ShelveRequest(alarm_ids=[known.id], reason="x"),
        alarms_pb2.ShelveRequest(alarm_ids=[known.id], reason="x", duration=Duration(seconds=86_401)),
        alarms_pb2.ShelveRequest(reason="x", duration=Duration(seconds=60)),
    ):
        assert code_of(lambda r=req: stub.Shelve(r, timeout=5)) == inv
    for req in (
        alarms_pb2.ListAlarmsRequest(page_size=-1),
        alarms_pb2.ListAlarmsRequest(page_size=5001),
        alarms_pb2.ListAlarmsRequest(page_token="garbage!"),
        alarms_pb2.ListAlarmsRequest(kinds=[99]),
        alarms_pb2.ListAlarmsRequest(states=[42]),
        alarms_pb2.ListAlarmsRequest(priorities=[9]),
    ):
        assert code_of(lambda r=req: stub.ListAlarms(r, timeout=5)) == inv
    bad = stub.WatchAlarms(alarms_pb2.WatchAlarmsRequest(max_batch=-1), timeout=5)
    assert code_of(lambda: next(bad)) == inv
    # A foreign epoch or an aged-out sequence gets an explicit resync.
    msg = next(watch(stub, 5, "not-our-epoch", timeout=5))
    assert msg.WhichOneof("event") == "resync_needed"


def open_alarms(c: StreamChecker) -> dict[str, alarms_pb2.Alarm]:
    return {i: a for i, a in c.alarms.items() if a.state != A.NORMAL}


def assert_same_alarms(resumed: StreamChecker, fresh: StreamChecker) -> None:
    """Both views are at the same sequence and hold the same open alarms, every field equal."""
    assert resumed.sequence == fresh.sequence
    got, want = open_alarms(resumed), open_alarms(fresh)
    assert sorted(got) == sorted(want), set(got) ^ set(want)
    wrong = {
        i: [f.name for f in A.DESCRIPTOR.fields if getattr(got[i], f.name) != getattr(want[i], f.name)]
        for i in want
        if got[i] != want[i]
    }
    assert not wrong, wrong


def test_restart_keeps_alarms_acks_and_resumes_without_gap(make_backend):
    data = tempfile.mkdtemp(prefix="vigie-alarms-")
    b = make_backend("--alarm-rate", "20", "--data-dir", data).start()
    stub = stub_for(b.address)
    c = StreamChecker()
    stream = watch(stub)
    c.read_snapshot(stream)
    target = open_alarm(c, A.UNACK_ACTIVE, A.RTN_UNACK)
    stub.Acknowledge(alarms_pb2.AcknowledgeRequest(alarm_ids=[target.id], operator="night shift"), timeout=5)
    c.read_until_true(stream, lambda: c.alarms[target.id].acknowledged, 60.0)
    c.read_until(stream, c.sequence + 50)
    stream.cancel()
    last, epoch = c.sequence, c.epoch
    b.stop()
    b.start()
    stub = stub_for(b.address)
    resumed = watch(stub, last, epoch, timeout=120, max_batch=1)
    c.read_until(resumed, last + 50)  # fails on a resync or on any gap
    assert c.epoch == epoch
    kept = next(a for a in page_all(stub, asset_ids=[target.asset_id]) if a.id == target.id)
    assert kept.acknowledged and kept.acknowledged_by == "operator"
    # A fresh snapshot after the restart and the resumed client, brought to the same sequence,
    # hold the same open alarms, field by field.
    fresh = StreamChecker()
    s2 = watch(stub, timeout=10)
    fresh.read_snapshot(s2)
    s2.cancel()
    assert fresh.epoch == epoch and fresh.sequence >= c.sequence
    if c.sequence < fresh.sequence:
        c.read_until(resumed, fresh.sequence)
    resumed.cancel()
    assert_same_alarms(c, fresh)
    assert c.alarms[target.id] == kept or c.alarms[target.id].sequence > kept.sequence


def test_kill_9_gives_a_new_epoch_and_old_clients_are_told_to_resync(make_backend):
    data = tempfile.mkdtemp(prefix="vigie-alarms-")
    b = make_backend("--alarm-rate", "20", "--data-dir", data).start()
    stub = stub_for(b.address)
    c = StreamChecker()
    stream = watch(stub)
    c.read_snapshot(stream)
    c.read_until(stream, c.sequence + 20)
    stream.cancel()
    last, epoch = c.sequence, c.epoch
    b.kill()  # SIGKILL: the store is not closed cleanly
    b.start()
    stub = stub_for(b.address)
    msg = next(watch(stub, last, epoch, timeout=30))
    assert msg.WhichOneof("event") == "resync_needed", msg
    assert msg.resync_needed.requested_revision == last
    assert msg.epoch and msg.epoch != epoch
    # Reloading with a snapshot works, in the new epoch.
    fresh = StreamChecker()
    s2 = watch(stub, timeout=30)
    fresh.read_snapshot(s2)
    s2.cancel()
    assert fresh.epoch == msg.epoch != epoch


def test_a_second_backend_on_the_same_data_dir_does_not_touch_its_alarms(make_backend, tmp_path):
    data = str(tmp_path / "data")
    first = make_backend("--alarm-rate", "20", "--data-dir", data).start()
    c = StreamChecker()
    stream = watch(stub_for(first.address))
    c.read_snapshot(stream)
    c.read_until(stream, c.sequence + 20)
    log = tmp_path / "second.log"
    second = make_backend("--alarm-rate", "50", "--data-dir", data, stderr=log).start()
    other = StreamChecker()
    s2 = watch(stub_for(second.address))
    other.read_snapshot(s2)
    other.read_until(s2, other.sequence + 50)  # the second one raises alarms of its own...
    s2.cancel()
    assert "used by another backend" in log.read_text()
    assert other.epoch != c.epoch  # ...in another history, not in the first one's file
    c.read_until(stream, c.sequence + 20)  # the first one goes on, without a gap (StreamChecker)
    stream.cancel()
    second.stop()
    last = c.sequence
    first.stop()
    first.start()
    # The file holds the first backend's history only: every alarm it streamed is in its journal
    # as it was (the second one numbered its own alarms from 1 too), and a resume works.
    stub = stub_for(first.address)
    journal = {a.id: a for a in page_all(stub, page_size=1000)}
    mixed = [
        i
        for i, a in c.alarms.items()
        if (journal[i].source_key, journal[i].raised_at) != (a.source_key, a.raised_at)
    ]
    assert not mixed, mixed
    resumed = watch(stub, last, c.epoch, timeout=60)
    c.read_until(resumed, last + 10)
    resumed.cancel()


def test_flood_of_1000_alarms_is_streamed_whole(make_backend):
    b = make_backend("--alarm-rate", "100").start()
    stub = stub_for(b.address)
    c = StreamChecker()
    stream = watch(stub, timeout=60)
    c.read_snapshot(stream)
    created: set[int] = set()
    done = [0]  # changes already looked at

    def enough() -> bool:
        for x in c.changes[done[0] :]:
            a = x.alarm
            if a.cause == "synthetic" and a.occurrences == 1 and a.raised_at == a.updated_at:
                created.add(int(a.id[4:]))
        done[0] = len(c.changes)
        return len(created) >= 1000

    c.read_until_true(stream, enough, 120.0)  # proves completeness; bench/ measures the rate
    stream.cancel()
    # Ids are handed out in order: every synthetic id between the first and last seen arrived.
    everything = {int(x.alarm.id[4:]) for x in c.changes if x.alarm.raised_at == x.alarm.updated_at}
    lo, hi = min(created), max(created)
    assert {i for i in everything if lo <= i <= hi} == set(range(lo, hi + 1))
