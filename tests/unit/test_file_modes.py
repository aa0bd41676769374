"""Everything the backend's stores create is owner-only (files 0600, directories 0700) even
under a permissive umask, and files left with looser modes by an older version are fixed at
startup. Real files: a real backend process, and the stores themselves."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from tests.conftest import BackendProcess, open_channel
from vigie.backend.domain.audit import AuditEntry
from vigie.backend.store.alarms_sqlite import AlarmPersister
from vigie.backend.store.audit_sqlite import AuditStore
from vigie.backend.store.users_sqlite import UserDB
from vigie.v1 import alarms_pb2, alarms_pb2_grpc

STORES = ("alarms.sqlite3", "audit.sqlite3", "users.sqlite3")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask():
    old = os.umask(0)  # anything created with a default mode would be 0666 / 0777
    yield
    os.umask(old)


def assert_private(data: Path, created_parent: Path) -> None:
    files = sorted(
        p for p in data.iterdir() if p.name != "walls.json"
    )  # walls.json: tests/unit/test_walls.py
    names = {p.name for p in files}
    for store in STORES:  # the databases and their WAL companions all exist, so all are checked
        assert {store, f"{store}-wal", f"{store}-shm"} <= names, names
    assert "alarms.sqlite3.lock" in names
    # Files 0600 and directories 0700, inside folders too (recordings/: docs/recording.md).
    everything = [p for p in data.rglob("*") if p.name != "walls.json"]
    wrong = {
        str(p.relative_to(data)): oct(mode(p))
        for p in everything
        if mode(p) != (0o700 if p.is_dir() else 0o600)
    }
    assert wrong == {}
    assert mode(data) == 0o700
    assert mode(created_parent) == 0o700


def test_a_backend_under_umask_0_creates_only_private_files(permissive_umask, tmp_path):
    parent = tmp_path / "new-parent"
    data = parent / "data"
    b = BackendProcess("--lights", "0", "--vehicles", "0", "--data-dir", str(data)).start()
    try:
        with open_channel(b.address, "operator") as ch:  # a login: users and audit are written
            alarms_pb2_grpc.AlarmServiceStub(ch).ListAlarms(alarms_pb2.ListAlarmsRequest(), timeout=10)
        wal = [data / f"{store}-wal" for store in STORES]
        deadline = time.monotonic() + 20
        while not all(p.exists() for p in wal) and time.monotonic() < deadline:
            time.sleep(0.05)  # polled with a deadline: each store opens its WAL on its first write
        assert_private(data, parent)  # while it runs: a clean stop removes the -wal and -shm files
        assert (data / "recordings" / "recordings.sqlite3").exists() and (data / "history.sqlite3").exists()
    finally:
        b.stop()
    assert b.proc is not None and b.proc.returncode == 0


def test_the_stores_fix_loose_modes_left_by_an_older_version(permissive_umask, tmp_path):
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    for store in STORES:  # as the previous version left them: 0644, WAL companions included
        conn = sqlite3.connect(data / store)
        conn.execute("CREATE TABLE IF NOT EXISTS junk (x)")
        conn.close()
        for suffix in ("", "-wal", "-shm"):  # -wal and -shm as a crash leaves them
            (data / f"{store}{suffix}").touch()
            os.chmod(data / f"{store}{suffix}", 0o644)
    (data / "alarms.sqlite3.lock").touch()
    os.chmod(data / "alarms.sqlite3.lock", 0o644)
    os.chmod(data, 0o755)

    async def run() -> None:
        users = UserDB(str(data))
        audit = AuditStore(str(data))
        audit.record(AuditEntry("u", "c", "login", "", "", "ok"))
        await audit.flush()
        alarms = AlarmPersister(str(data), history=10)
        alarms.open_engine()
        alarms.start()
        await alarms.flush()
        assert_private(data, data)
        await alarms.close()
        await audit.close()
        users.close()

    asyncio.run(run())


def test_a_shared_sticky_directory_is_used_but_never_narrowed(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: narrowing it would break every other user
    db = UserDB(str(shared))
    db.close()
    assert mode(shared) == 0o1777
    assert mode(shared / "users.sqlite3") == 0o600
