"""--audit-retention-days on a real backend: records older than the limit, left in the data dir
by an earlier run, are gone once the backend has started; recent ones stay."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import open_channel
from vigie.backend.domain.audit import AuditEntry
from vigie.backend.store.audit_sqlite import AuditStore
from vigie.v1 import audit_pb2, audit_pb2_grpc


def test_the_backend_applies_the_age_limit_at_startup(make_backend, tmp_path):
    data = tmp_path / "data"
    store = AuditStore(str(data))  # an earlier run's records: 40 days old, and 1 day old
    store.record(AuditEntry("old-user", "c", "login", "", "", "ok", time=time.time() - 40 * 86_400))
    store.record(AuditEntry("recent-user", "c", "login", "", "", "ok", time=time.time() - 86_400))
    asyncio.run(store.close())
    b = make_backend("--lights", "0", "--vehicles", "0", "--quiet-city", "--data-dir", str(data),
                     "--audit-retention-days", "30").start()  # fmt: skip
    sup = audit_pb2_grpc.AuditServiceStub(open_channel(b.address, "supervisor"))
    users = {r.user for r in sup.ListAudit(audit_pb2.ListAuditRequest(action="login"), timeout=10).records}
    assert users == {"recent-user", "supervisor"}
