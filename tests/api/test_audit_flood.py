"""Callers without a token cannot fill the disk through the audit trail: a flood of refused
Execute calls, each with 500 ids of 128 characters and a 500-character reason (about 137 KiB of
audit each before the fix), writes one small record at once and one summary with the count when
the peer's window ends, a few KiB in all."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from tests.conftest import open_channel
from vigie.v1 import audit_pb2, audit_pb2_grpc, commands_pb2

CALLS = 300
IDS = [f"light-{i:04d}-" + "x" * 117 for i in range(500)]  # 128 characters each
REASON = "r" * 500
PATH = "/vigie.v1.CommandService/Execute"


def audit_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.glob("audit.sqlite3*"))


def denied(stub: audit_pb2_grpc.AuditServiceStub) -> list[audit_pb2.AuditRecord]:
    resp = stub.ListAudit(audit_pb2.ListAuditRequest(action="command.execute", result="denied"), timeout=10)
    return list(reversed(resp.records))  # oldest first


def test_a_flood_of_unauthenticated_calls_writes_two_small_records(make_backend, tmp_path):
    data = tmp_path / "data"
    b = make_backend("--lights", "0", "--vehicles", "0", "--quiet-city", "--data-dir", str(data),
                     "--refusal-audit-window", "3").start()  # fmt: skip
    sup = audit_pb2_grpc.AuditServiceStub(open_channel(b.address, "supervisor"))
    assert denied(sup) == []
    before = audit_bytes(data)
    raw = commands_pb2.ExecuteRequest(
        idempotency_key="flood", asset_ids=IDS, action=commands_pb2.LIGHT_OFF, reason=REASON
    ).SerializeToString()
    with open_channel(b.address, user=None) as ch:
        call = ch.unary_unary(PATH)  # raw bytes, as an attacker would send them
        for _ in range(CALLS):
            with pytest.raises(grpc.RpcError) as err:
                call(raw, timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    first = denied(sup)
    assert len(first) == 1  # the first refusal at once, the others only counted
    r = first[0]
    shown = [i[:64] for i in IDS[:3]]
    assert r.user == "" and r.target == ",".join(shown) + ",… (500 ids)"
    assert r.reason == REASON[:100]
    assert r.detail.startswith("UNAUTHENTICATED: missing authorization metadata")

    deadline = time.monotonic() + 30
    records = first
    while len(records) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # polled with a deadline: the summary comes when the 3 s window ends
        records = denied(sup)
    assert len(records) == 2, records
    summary = records[1]
    assert summary.target == ",".join(shown) and summary.reason == ""
    assert f"({CALLS - 1} more refused calls from ipv4:127.0.0.1 within 3 s)" in summary.detail
    for rec in records:  # fixed size, whatever the requests held
        assert len(rec.target) + len(rec.reason) + len(rec.detail) < 1000
    grown = audit_bytes(data) - before
    assert grown < 256 * 1024, f"{grown} bytes of audit for {CALLS} refused calls"
