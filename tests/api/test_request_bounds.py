"""Every string and list of every request of every service is bounded: past the bound the call
is INVALID_ARGUMENT naming the field, nothing is stored, and the alarm streams keep working."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from tests.conftest import open_channel
from vigie.v1 import (
    alarms_pb2,
    alarms_pb2_grpc,
    assets_pb2,
    assets_pb2_grpc,
    audit_pb2,
    auth_pb2,
    commands_pb2,
    map_pb2,
    video_pb2,
    wall_pb2,
)

FILES = (alarms_pb2, assets_pb2, audit_pb2, auth_pb2, commands_pb2, map_pb2, video_pb2, wall_pb2)
HUGE_TEXT = "é" * 5000  # past any bound a request's string may have (the largest is 4096)
MANY = 1001  # past any bound a request's list may have (the largest is 500)


def _methods() -> list[tuple[str, Descriptor, bool]]:
    out = []
    for f in FILES:
        for service in f.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                out.append((f"/{service.full_name}/{m.name}", m.input_type, m.server_streaming))
    return out


def _paths(desc: Descriptor, prefix: tuple[FieldDescriptor, ...] = ()) -> list[tuple[FieldDescriptor, ...]]:
    """Every string field and every repeated field reachable in a request type (3 levels deep)."""
    out = []
    for field in desc.fields:
        path = (*prefix, field)
        if field.is_repeated or field.type == FieldDescriptor.TYPE_STRING:
            out.append(path)
        elif field.type == FieldDescriptor.TYPE_MESSAGE and len(prefix) < 3:
            out.extend(_paths(field.message_type, path))
    return out


def _oversized(desc: Descriptor, path: tuple[FieldDescriptor, ...], many: bool) -> bytes:
    """A request whose field at `path` is past any bound (a huge string, or too many entries)."""
    msg: Message = GetMessageClass(desc)()
    target = msg
    for field in path[:-1]:
        target = getattr(target, field.name)
    leaf = path[-1]
    if leaf.is_repeated:
        items = getattr(target, leaf.name)
        if leaf.type == FieldDescriptor.TYPE_MESSAGE:
            for _ in range(MANY):
                items.add()
        elif leaf.type == FieldDescriptor.TYPE_STRING:
            items.extend(["a"] * MANY if many else [HUGE_TEXT])
        else:
            items.extend([1] * MANY)
    else:
        setattr(target, leaf.name, HUGE_TEXT)
    return msg.SerializeToString()


CASES = [
    pytest.param(method, desc, streaming, path, many, id=f"{method}:{'.'.join(f.name for f in path)}:{many}")
    for method, desc, streaming in _methods()
    for path in _paths(desc)
    for many in ((True, False) if path[-1].is_repeated else (False,))
    if many or path[-1].type == FieldDescriptor.TYPE_STRING
]


def test_every_service_has_requests_with_text_or_lists():
    """The sweep below covers the whole API (a guard against an empty parametrisation)."""
    methods = {c.values[0] for c in CASES}
    assert len(methods) >= 20, sorted(methods)
    assert "/vigie.v1.AlarmService/Acknowledge" in methods and "/vigie.v1.WallService/Push" in methods


@pytest.fixture(scope="module")
def admin(backend):
    with open_channel(backend.address, user="admin") as ch:
        yield ch


@pytest.mark.parametrize(("method", "desc", "streaming", "path", "many"), CASES)
def test_every_field_past_its_bound_is_invalid_argument(admin, method, desc, streaming, path, many):
    raw = _oversized(desc, path, many)
    with pytest.raises(grpc.RpcError) as err:
        if streaming:
            call = admin.unary_stream(method)(raw, timeout=10)
            next(iter(call))
        else:
            admin.unary_unary(method)(raw, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert path[-1].name in err.value.details()


def unacked_alarms(ch: grpc.Channel, n: int) -> tuple[list[str], int, str]:
    """(`n` ids of alarms waiting for acknowledgement, the stream's sequence and epoch then),
    following WatchAlarms until there are that many."""
    stream = alarms_pb2_grpc.AlarmServiceStub(ch).WatchAlarms(alarms_pb2.WatchAlarmsRequest(), timeout=120)
    unacked: dict[str, None] = {}
    for msg in stream:
        alarms = [*msg.snapshot.alarms, *(c.alarm for c in msg.changes.changes)]
        for a in alarms:
            if a.state == alarms_pb2.Alarm.UNACK_ACTIVE:
                unacked[a.id] = None
            else:
                unacked.pop(a.id, None)
        if len(unacked) >= n and not (msg.HasField("snapshot") and not msg.snapshot.last):
            stream.cancel()
            return list(unacked)[:n], msg.sequence, msg.epoch
    raise AssertionError("the stream ended")


def test_a_huge_comment_is_refused_and_nothing_is_stored(make_backend):
    b = make_backend("--seed", "3", "--alarm-rate", "20").start()
    with open_channel(b.address, user="operator") as ch:
        alarms = alarms_pb2_grpc.AlarmServiceStub(ch)
        ids = unacked_alarms(ch, 6)[0]
        with pytest.raises(grpc.RpcError) as err:
            alarms.Acknowledge(
                alarms_pb2.AcknowledgeRequest(alarm_ids=ids, comment="c" * 3_900_000), timeout=30
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details() == "comment is 3900000 characters long (at most 1000)"
        with pytest.raises(grpc.RpcError) as err:
            alarms.Acknowledge(alarms_pb2.AcknowledgeRequest(alarm_ids=ids, comment="c" * 1001), timeout=10)
        assert err.value.details() == "comment is 1001 characters long (at most 1000)"
        # Unshelving nothing-changed alarms echoes their stored state: still unacknowledged.
        echoed = alarms.Unshelve(alarms_pb2.UnshelveRequest(alarm_ids=ids), timeout=10).alarms
        assert [(a.id, a.ack_comment) for a in echoed if a.acknowledged] == [], "nothing was acknowledged"
        # At the bound it is served, and every console still reads the alarms.
        done = alarms.Acknowledge(
            alarms_pb2.AcknowledgeRequest(alarm_ids=ids, comment="c" * 1000), timeout=10
        )
        assert [a.ack_comment for a in done.alarms] == ["c" * 1000] * 6
        assert unacked_alarms(ch, 0)[0] == []
        assert alarms.ListAlarms(alarms_pb2.ListAlarmsRequest(page_size=5000), timeout=30).total_size > 0


def test_ids_are_bounded_shorter_than_text(backend):
    with open_channel(backend.address, user="viewer") as ch:
        assets = assets_pb2_grpc.AssetServiceStub(ch)
        with pytest.raises(grpc.RpcError) as err:
            assets.GetAsset(assets_pb2.GetAssetRequest(id="a" * 129), timeout=10)
        assert (err.value.code(), err.value.details()) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "id is 129 characters long (at most 128)",
        )
        with pytest.raises(grpc.RpcError) as err:  # within the bound: the service answers
            assets.GetAsset(assets_pb2.GetAssetRequest(id="a" * 128), timeout=10)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_nested_fields_are_named_with_their_path(backend):
    with open_channel(backend.address, user="supervisor") as ch:
        push = ch.unary_unary("/vigie.v1.WallService/Push")
        req = wall_pb2.PushRequest(wall="wall-1")
        req.content.mosaic.camera_ids.extend(["cam-0001"] * 501)
        with pytest.raises(grpc.RpcError) as err:
            push(req.SerializeToString(), timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details() == "content.mosaic.camera_ids has 501 entries (at most 500)"


def test_list_entries_and_each_entry_have_their_own_bounds(backend):
    with open_channel(backend.address, user="operator") as ch:
        ack = alarms_pb2_grpc.AlarmServiceStub(ch).Acknowledge
        for ids, reason in (
            (["alm-1"] * 401, "alarm_ids has 401 entries (at most 400)"),
            (["alm-1", "a" * 129], "alarm_ids[1] is 129 characters long (at most 128)"),
        ):
            with pytest.raises(grpc.RpcError) as err:
                ack(alarms_pb2.AcknowledgeRequest(alarm_ids=ids), timeout=10)
            assert (err.value.code(), err.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
