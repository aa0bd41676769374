"""The audit trail on real backends: one record per login, logout and alarm action (with who,
from where, on what, why and with what result), refused commands, filters, paging, and records
that survive a restart."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from tests.conftest import bearer_channel, login, open_channel
from vigie.v1 import (
    alarms_pb2,
    alarms_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    commands_pb2,
)

LIGHT = ("--lights", "0", "--vehicles", "0")
Q = audit_pb2.ListAuditRequest


def list_all(stub: audit_pb2_grpc.AuditServiceStub, **filters) -> list[audit_pb2.AuditRecord]:
    out, token = [], ""
    while True:
        resp = stub.ListAudit(Q(page_token=token, **filters), timeout=5)
        out.extend(resp.records)
        token = resp.next_page_token
        if not token:
            return out


def an_open_alarm(stub: alarms_pb2_grpc.AlarmServiceStub) -> alarms_pb2.Alarm:
    """The first unacknowledged active alarm WatchAlarms reports (events, not polling)."""
    stream = stub.WatchAlarms(alarms_pb2.WatchAlarmsRequest(), timeout=120)
    try:
        for msg in stream:
            for a in [*msg.snapshot.alarms, *(c.alarm for c in msg.changes.changes)]:
                if a.state == alarms_pb2.Alarm.UNACK_ACTIVE:
                    return a
    finally:
        stream.cancel()
    raise AssertionError("WatchAlarms ended without an open alarm")


def test_logins_logouts_and_alarm_actions_are_audited_and_kept(make_backend, tmp_path):
    b = make_backend(*LIGHT, "--alarm-rate", "20", "--data-dir", str(tmp_path / "data")).start()
    t0 = time.time()
    op_login = login(b.address, "operator")
    with pytest.raises(grpc.RpcError):
        login(b.address, "operator", password="guess-again")
    op = bearer_channel(b.address, op_login.token)
    alarms = alarms_pb2_grpc.AlarmServiceStub(op)
    target = an_open_alarm(alarms)
    alarms.Acknowledge(
        alarms_pb2.AcknowledgeRequest(
            alarm_ids=[target.id], comment="Checked on the CAMERA feed", operator="mallory"
        ),
        timeout=5,
    )
    with pytest.raises(grpc.RpcError):
        alarms.Acknowledge(alarms_pb2.AcknowledgeRequest(alarm_ids=["alm-999999"]), timeout=5)
    with pytest.raises(grpc.RpcError):
        alarms.Shelve(
            alarms_pb2.ShelveRequest(alarm_ids=[target.id], duration=Duration(seconds=60)), timeout=5
        )
    auth_pb2_grpc.AuthServiceStub(op).Logout(auth_pb2.LogoutRequest(), timeout=5)
    sup = audit_pb2_grpc.AuditServiceStub(open_channel(b.address, "supervisor"))

    records = list_all(sup)
    assert [r.id for r in records] == sorted((r.id for r in records), reverse=True)  # newest first
    got = [(r.user, r.action, r.target, r.reason, r.result) for r in reversed(records)]
    assert got == [
        ("operator", "login", "operator", "", "ok"),
        ("operator", "login", "operator", "", "failed"),
        ("operator", "alarm.acknowledge", target.id, "Checked on the CAMERA feed", "ok"),
        ("operator", "alarm.acknowledge", "alm-999999", "", "failed"),
        ("operator", "alarm.shelve", target.id, "", "invalid"),
        ("operator", "logout", "operator", "", "ok"),
        ("supervisor", "login", "supervisor", "", "ok"),
    ]
    by_action = {(r.action, r.result): r for r in records}
    assert by_action[("login", "failed")].detail == "wrong password"
    assert by_action[("alarm.acknowledge", "failed")].detail == "NOT_FOUND: no alarm with id alm-999999"
    assert by_action[("alarm.shelve", "invalid")].detail == "INVALID_ARGUMENT: reason is required"
    assert all(r.console == "pytest" for r in records)
    assert all(t0 - 1 <= r.time.seconds <= time.time() + 1 for r in records)

    # Filters.
    def actions(**filters) -> list[str]:
        return [f"{r.action}:{r.result}" for r in reversed(list_all(sup, **filters))]

    assert len(actions(user="operator")) == 6 and actions(user="nobody") == []
    assert actions(action="alarm") == [
        "alarm.acknowledge:ok",
        "alarm.acknowledge:failed",
        "alarm.shelve:invalid",
    ]
    assert actions(action="alarm.ack") == ["alarm.acknowledge:ok", "alarm.acknowledge:failed"]
    assert actions(result="failed") == ["login:failed", "alarm.acknowledge:failed"]
    assert actions(target="999") == ["alarm.acknowledge:failed"]
    assert actions(text="camera FEED") == ["alarm.acknowledge:ok"]
    assert actions(text="no alarm with id") == ["alarm.acknowledge:failed"]
    assert actions(end=Timestamp(seconds=int(t0) - 5)) == []
    assert len(actions(start=Timestamp(seconds=int(t0) - 5))) == 7
    # Paging: pages of 2 give the same records, each page says how many match in all.
    first = sup.ListAudit(Q(page_size=2), timeout=5)
    assert len(first.records) == 2 and first.total_size == 7 and first.next_page_token
    assert [r.id for r in list_all(sup, page_size=2)] == [r.id for r in records]
    for bad in (
        Q(page_size=5001),
        Q(page_size=-1),
        Q(page_token="garbage"),
        Q(start=Timestamp(seconds=10), end=Timestamp(seconds=5)),
    ):
        with pytest.raises(grpc.RpcError) as err:
            sup.ListAudit(bad, timeout=5)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # Kept across a restart (plus the new supervisor login).
    b.stop()
    b.start()
    sup = audit_pb2_grpc.AuditServiceStub(open_channel(b.address, "supervisor"))
    after = list_all(sup)
    assert [r.id for r in after[1:]] == [r.id for r in records] and after[0].action == "login"
    assert after[0].id > records[0].id


def test_refused_commands_are_audited(make_backend):
    # A private backend: refusals are aggregated per peer and kind, so refusals other tests made on
    # the shared backend within the window would be counted into a summary, not written here.
    backend = make_backend("--seed", "7").start()
    request = commands_pb2.ExecuteRequest(
        idempotency_key="k-audit-1",
        asset_ids=["audit-test-light-1", "audit-test-light-2"],
        action=commands_pb2.LIGHT_OFF,
        reason="testing refusals",
    )
    path = "/vigie.v1.CommandService/Execute"
    for user, metadata in (("viewer", ()), (None, ()), (None, (("authorization", "Bearer forged"),))):
        with open_channel(backend.address, user=user) as ch:
            stub = ch.unary_unary(path)  # raw bytes: works whether the command service is built or not
            with pytest.raises(grpc.RpcError) as err:
                stub(request.SerializeToString(), metadata=metadata, timeout=5)
            assert err.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
    sup = audit_pb2_grpc.AuditServiceStub(open_channel(backend.address, "supervisor"))
    records = list_all(sup, action="command.execute", result="denied", target="audit-test-light-1")
    got = [(r.user, r.target, r.reason, r.detail) for r in reversed(records)]
    assert got == [
        (
            "viewer",
            "audit-test-light-1,audit-test-light-2",
            "testing refusals",
            "PERMISSION_DENIED: needs role OPERATOR, you are VIEWER",
        ),
        (
            "",
            "audit-test-light-1,audit-test-light-2",
            "testing refusals",
            "UNAUTHENTICATED: missing authorization metadata: send 'authorization: Bearer <token>'",
        ),
        (
            "",
            "audit-test-light-1,audit-test-light-2",
            "testing refusals",
            "UNAUTHENTICATED: unknown token (expired long ago, or from a backend that restarted)",
        ),
    ]
