"""ListAudit pages are bounded in bytes: records near their bounds, many of them, still page
through a client with gRPC's default 4 MB receive limit, each record exactly once."""

from __future__ import annotations

import grpc
import pytest

from tests.conftest import open_channel
from vigie.v1 import audit_pb2, audit_pb2_grpc, commands_pb2, commands_pb2_grpc

CALLS = 80


def test_audit_pages_of_large_records_fit_a_default_client(make_backend):
    b = make_backend("--seed", "6").start()
    with open_channel(b.address, user="operator") as ch:
        stub = commands_pb2_grpc.CommandServiceStub(ch)
        for i in range(CALLS):
            # 500 unknown ids of 128 characters: refused, and audited with its ~64 KB of targets.
            ids = [f"x{i:03d}-{n:03d}".ljust(128, "y") for n in range(500)]
            req = commands_pb2.ExecuteRequest(
                idempotency_key=f"k{i}", asset_ids=ids, action=commands_pb2.LIGHT_ON
            )
            with pytest.raises(grpc.RpcError) as err:
                stub.Execute(req, timeout=30)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with open_channel(b.address, user="supervisor") as ch:
        audit = audit_pb2_grpc.AuditServiceStub(ch)
        seen: list[int] = []
        token, pages = "", 0
        while True:
            page = audit.ListAudit(
                audit_pb2.ListAuditRequest(action="command.execute", page_size=5000, page_token=token),
                timeout=60,
            )
            pages += 1
            seen += [r.id for r in page.records]
            token = page.next_page_token
            if not token:
                break
    assert page.total_size == CALLS and len(seen) == len(set(seen)) == CALLS
    assert pages > 1
