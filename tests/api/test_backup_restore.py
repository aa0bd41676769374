"""`vigie-backend backup DEST` while the backend runs under load, then `restore` into a fresh
data dir: the restored files hold exactly the backup's records, a backend started on them
serves the alarms, audit trail, users and walls that existed before the backup, and a restore
into a data dir in use is refused. Records are read from the files with sqlite3 by the test."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import ROOT, open_channel
from vigie.v1 import (
    alarms_pb2,
    alarms_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    wall_pb2,
    wall_pb2_grpc,
)

TABLES = {
    "alarms.sqlite3": ("alarms", "alarm_log"),
    "audit.sqlite3": ("audit",),
    "users.sqlite3": ("users",),
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigie.backend", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def rows(db: Path, table: str) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return sorted(c.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def all_alarm_ids(ch) -> set[str]:
    stub, ids, token = alarms_pb2_grpc.AlarmServiceStub(ch), set(), ""
    while True:
        page = stub.ListAlarms(alarms_pb2.ListAlarmsRequest(page_size=5000, page_token=token), timeout=30)
        ids |= {a.id for a in page.alarms}
        token = page.next_page_token
        if not token:
            return ids


def test_backup_under_load_restores_alarms_audit_users_and_walls(make_backend):
    data = Path(tempfile.mkdtemp(prefix="vigie-test-data-"))
    a = make_backend(
        "--data-dir",
        str(data),
        "--lights",
        "200",
        "--vehicles",
        "10",
        "--alarm-rate",
        "30",
        "--change-rate",
        "300",
    ).start()
    with open_channel(a.address, "admin") as ch:
        auth_pb2_grpc.AuthServiceStub(ch).CreateUser(
            auth_pb2.CreateUserRequest(
                name="restored-user", password="a long passphrase", role=auth_pb2.OPERATOR
            ),
            timeout=10,
        )
        wall_pb2_grpc.WallServiceStub(ch).CreateWall(
            wall_pb2.CreateWallRequest(name="backup-wall", allowed_displays=["desk-1"]), timeout=10
        )
        deadline = time.monotonic() + 30
        while (
            "backup-wall" not in (data / "walls.json").read_text() if (data / "walls.json").exists() else True
        ):
            assert time.monotonic() < deadline, "walls.json never got the new wall"
            time.sleep(0.05)
        before = all_alarm_ids(ch)  # ListAlarms reads the file: these are written
        assert len(before) > 0
    dest = Path(tempfile.mkdtemp(prefix="vigie-test-backup-")) / "b1"
    done = cli("backup", str(dest), "--data-dir", str(data))  # alarms keep coming meanwhile
    assert done.returncode == 0, done.stderr
    assert {"alarms.sqlite3", "audit.sqlite3", "users.sqlite3", "walls.json", "vigie-backup.json"} <= {
        p.name for p in dest.iterdir()
    }
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in dest.iterdir())
    assert dest.stat().st_mode & 0o777 == 0o700
    backed_alarms = {r[1] for r in rows(dest / "alarms.sqlite3", "alarms")}  # (num, id, ...)
    assert before <= backed_alarms  # everything written before the backup is in it

    refused = cli("restore", str(dest), "--data-dir", str(data))
    assert refused.returncode == 1 and "running" in refused.stderr

    fresh = Path(tempfile.mkdtemp(prefix="vigie-test-data-")) / "restored"
    done = cli("restore", str(dest), "--data-dir", str(fresh))
    assert done.returncode == 0, done.stderr
    assert fresh.stat().st_mode & 0o777 == 0o700
    for db, tables in TABLES.items():
        for table in tables:
            assert rows(fresh / db, table) == rows(dest / db, table), f"{db}:{table}"
    assert json.loads((fresh / "walls.json").read_text()) == json.loads((dest / "walls.json").read_text())
    users = {r[0] for r in rows(dest / "users.sqlite3", "users")}
    audit_count = len(rows(dest / "audit.sqlite3", "audit"))
    again = cli("restore", str(dest), "--data-dir", str(fresh))
    assert again.returncode == 1 and "fresh data dir" in again.stderr  # never over stores silently

    b = make_backend("--data-dir", str(fresh), "--lights", "200", "--vehicles", "10", "--quiet-city").start()
    with open_channel(b.address, "admin") as ch:
        listed = auth_pb2_grpc.AuthServiceStub(ch).ListUsers(auth_pb2.ListUsersRequest(), timeout=10)
        assert {u.name for u in listed.users} == users and "restored-user" in users
        walls = wall_pb2_grpc.WallServiceStub(ch).ListWalls(wall_pb2.ListWallsRequest(), timeout=10)
        assert "backup-wall" in {w.name for w in walls.walls}
        served = all_alarm_ids(ch)
        assert before <= served, (len(before), len(served), len(before - served), sorted(before - served)[:5])
        audit = audit_pb2_grpc.AuditServiceStub(ch).ListAudit(
            audit_pb2.ListAuditRequest(action="wall.create", page_size=5000), timeout=10
        )
        assert any("backup-wall" in r.target for r in audit.records)
        total = audit_pb2_grpc.AuditServiceStub(ch).ListAudit(
            audit_pb2.ListAuditRequest(page_size=1), timeout=10
        )
        assert total.total_size >= audit_count
