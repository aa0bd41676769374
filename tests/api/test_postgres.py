"""The audit trail, users and incidents on PostgreSQL (`vigie-backend --db postgresql://...`),
with the same tests on SQLite: a real PostgreSQL server started by the tests
(tests/fixtures/postgres.py), real backends, and a replica's death survived."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import uuid

import pytest

from tests.api.incident_helpers import Stubs
from tests.conftest import ROOT, open_channel
from tests.unit.test_incident_domain import vehicle
from vigie.backend.domain.audit import AuditEntry
from vigie.backend.domain.incidents import IncidentBook
from vigie.backend.domain.units import UnitBoard, unit_from_vehicle
from vigie.backend.store.audit_sqlite import AuditQuery, AuditStore
from vigie.backend.store.incidents_sqlite import SqliteIncidentStore
from vigie.backend.store.sql import Database
from vigie.backend.store.users_sqlite import UserDB, UserExists
from vigie.v1 import audit_pb2, audit_pb2_grpc, auth_pb2, auth_pb2_grpc, incidents_pb2


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request) -> Database:
    """The same store tests on an SQLite data dir and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return Database(tempfile.mkdtemp(prefix="vigie-test-sql-"))
    return Database(None, request.getfixturevalue("postgres_db"))


def entry(i: int, **kw) -> AuditEntry:
    base = dict(
        user=f"u{i % 3}", console="c", action="login", target=f"t{i}", reason="", result="ok", time=1000.0 + i
    )
    return AuditEntry(**{**base, **kw})


def test_the_audit_trail_is_written_filtered_paged_and_kept(where):
    async def run() -> None:
        store = AuditStore(where)
        for i in range(10):
            store.record(entry(i))
        store.record(entry(10, action="alarm.acknowledge", reason="Fire DOOR", result="failed"))
        rows, total = await store.query(AuditQuery(limit=4))
        assert total == 11 and [r.entry.target for r in rows] == ["t10", "t9", "t8", "t7"]
        rows, total = await store.query(AuditQuery(before_id=rows[-1].id, limit=100))
        assert [r.entry.target for r in rows] == [f"t{i}" for i in range(6, -1, -1)]
        assert (await store.query(AuditQuery(user="u1")))[1] == 4
        assert (await store.query(AuditQuery(action_prefix="alarm")))[1] == 1
        assert (await store.query(AuditQuery(target="t1")))[1] == 2  # t1 and t10
        assert (await store.query(AuditQuery(text="fire door")))[1] == 1
        assert (await store.query(AuditQuery(result="failed", start=1010.0, end=1011.0)))[1] == 1
        newest = (await store.query(AuditQuery(limit=1)))[0][0].entry
        assert (newest.user, newest.console, newest.reason, newest.time) == ("u1", "c", "Fire DOOR", 1010.0)
        await store.close()
        again = AuditStore(where)
        assert (await again.query(AuditQuery()))[1] == 11
        await again.close()

    asyncio.run(run())


def test_audit_retention_deletes_by_age_and_by_size(where):
    async def run() -> None:
        store = AuditStore(where, retention_days=1.0)
        import time

        now = time.time()
        store.record(entry(0, time=now - 3 * 86_400))
        store.record(entry(1, time=now - 60))
        assert await store.prune() == 1
        assert [r.entry.target for r in (await store.query(AuditQuery()))[0]] == ["t1"]
        await store.close()
        sized = AuditStore(where, max_bytes=150_000)
        for i in range(1000):  # about 300 kB of records
            sized.record(entry(i + 2, detail="x" * 200, time=now))
        deleted = await sized.prune()
        rows, total = await sized.query(AuditQuery(limit=5000))
        assert 0 < deleted < 1000 and total == 1001 - deleted
        assert rows[0].entry.target == "t1001", "the newest records are kept, the oldest go"
        assert rows[-1].entry.target == f"t{1001 - total + 1}"
        await sized.close()

    asyncio.run(run())


def test_users_are_created_reset_and_seen_changing_from_another_connection(where):
    db, other = UserDB(where), UserDB(where)
    try:
        db.insert("erin", 2, "hash-1")
        with pytest.raises(UserExists):
            db.insert("erin", 2, "hash-x")
        before = other.data_version()
        assert db.upsert_password("erin", 3, "hash-2") is False
        assert other.data_version() != before, "a commit by another connection is noticed"
        row = other.get("erin")
        assert row is not None and (row.role, row.password_hash, row.credentials_version) == (3, "hash-2", 2)
        assert db.upsert_password("finn", 1, "hash-3") is True
        db.update("finn", 1, True)
        assert [(r.name, r.disabled) for r in other.all()] == [("erin", False), ("finn", True)]
        assert other.count_enabled(3) == 1 and other.credentials_versions() == {"erin": 2, "finn": 1}
    finally:
        db.close()
        other.close()


def test_incidents_keep_epoch_on_a_clean_close_and_take_a_new_one_after_a_crash(where):
    async def run(close: bool) -> tuple[str, int, int, list[str]]:
        store = SqliteIncidentStore(where)
        loaded = store.load(1000, 2000.0)
        book = IncidentBook(1000, loaded.incident_seq, loaded.next_id, listener=store.queue_incidents)
        board = UnitBoard(1000, loaded.unit_seq, listener=store.queue_units)
        book.restore(loaded.live, loaded.incident_log)
        board.restore(loaded.units, loaded.unit_log)
        store.set_meta(loaded.epoch, loaded.next_id)
        store.start()
        inc = book.create("road_accident", 0, 47.32, 5.04, "op", 2000.0)
        book.add_note(inc.id, "a note", "op", 2001.0)
        board.add_missing(
            [unit_from_vehicle(vehicle(f"veh-pol-{len(loaded.units) + 1:02d}", "police", "P"))], 2000.0
        )
        await store.flush()
        ids = [i.id for i in (await store.query(_query_all()))[0]]
        if close:
            await store.close()
        else:  # a crash: the connection (and its lock) go without the clean flag
            store._pool.submit(store.db.conn.close).result()
            store._pool.shutdown(wait=True)
            if store._lock_fd is not None:
                os.close(store._lock_fd)
        return loaded.epoch, book.sequence, board.sequence, ids

    epoch1, seq1, useq1, ids1 = asyncio.run(run(close=True))
    epoch2, seq2, useq2, ids2 = asyncio.run(run(close=False))
    assert epoch2 == epoch1 and seq2 == seq1 + 2 and useq2 == useq1 + 1
    assert ids2 == ["inc-000002", "inc-000001"] and ids1 == ["inc-000001"]
    epoch3, seq3, _, ids3 = asyncio.run(run(close=True))
    assert epoch3 != epoch2 and seq3 == seq2 + 2 and len(ids3) == 3


def _query_all():
    from vigie.backend.store.incidents_sqlite import IncidentQuery

    return IncidentQuery(limit=100)


def test_a_second_backend_on_the_same_database_keeps_its_incidents_in_memory(postgres_db, monkeypatch):
    from vigie.backend.store import incidents_sqlite

    monkeypatch.setattr(incidents_sqlite, "PG_LOCK_WAIT_S", 0.5)  # the first one is alive: no wait
    first, second = (
        SqliteIncidentStore(Database(None, postgres_db)),
        SqliteIncidentStore(Database(None, postgres_db)),
    )
    try:
        assert first.path.startswith("postgresql://") and second.path == ":memory:"
    finally:
        for s in (first, second):
            s._pool.submit(s.db.conn.close).result()


def test_audit_incidents_and_users_outlive_a_killed_backend_on_postgresql(postgres_db, make_backend):
    first = make_backend("--db", postgres_db, "--lights", "0", "--incident-rate", "0").start()
    added = subprocess.run(
        [sys.executable, "-m", "vigie.backend", "--add-user", "erin", "--role", "OPERATOR", "--db", postgres_db,
         "--data-dir", tempfile.mkdtemp(prefix="vigie-test-data-")],
        cwd=ROOT, input="a-long-password\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    ops = Stubs(first.address, "operator")
    incident = ops.create(47.3220, 5.0415, description=f"pg-{uuid.uuid4().hex[:6]}")
    ops.close()
    # Audit records are written behind the call (never blocking it): read them once on the first
    # backend, so what is killed below is a backend whose records were written, not queued.
    audit = audit_pb2_grpc.AuditServiceStub(open_channel(first.address, user="supervisor"))
    before = audit.ListAudit(audit_pb2.ListAuditRequest(page_size=5000), timeout=10).records
    assert any(r.action == "incident.create" for r in before)
    first.kill()  # kill -9: nothing is closed cleanly

    second = make_backend("--db", postgres_db, "--lights", "0", "--incident-rate", "0").start()
    auth = auth_pb2_grpc.AuthServiceStub(open_channel(second.address))
    assert auth.Login(
        auth_pb2.LoginRequest(user="erin", password="a-long-password", console="t"), timeout=10
    ).token
    ops = Stubs(second.address, "operator")
    listed = ops.incidents.ListIncidents(incidents_pb2.ListIncidentsRequest(), timeout=10).incidents
    assert [(i.id, i.description) for i in listed] == [(incident.id, incident.description)]
    ops.close()
    audit = audit_pb2_grpc.AuditServiceStub(open_channel(second.address, user="supervisor"))
    records = audit.ListAudit(audit_pb2.ListAuditRequest(page_size=5000), timeout=10).records
    seen = {(r.action, r.target) for r in records}
    assert ("user.create", "erin") in seen, "the CLI's record, written before the kill"
    assert ("incident.create", "road_accident") in seen, "the first backend's record"


def test_the_backend_refuses_a_db_url_that_is_not_postgresql():
    done = subprocess.run(
        [sys.executable, "-m", "vigie.backend", "--db", "mysql://root:secret@db/vigie"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "--db must be a postgresql://" in done.stderr
    assert "secret" not in done.stderr, "the password is never printed"
