"""A password reset ends the sessions opened with the old password (issue 11: `--add-user` used to
leave them alive). Real backend, real `vigie-backend --add-user` process on the same data
directory, real SQLite files (including one made before credentials versions existed)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import grpc

from tests.conftest import ROOT, bearer_channel, login
from vigie.backend.store.users_sqlite import UserDB
from vigie.v1 import assets_pb2, assets_pb2_grpc, auth_pb2, auth_pb2_grpc


def add_user(data_dir: str, name: str, role: str, password: str) -> None:
    """`vigie-backend --add-user`, as an administrator runs it (password on standard input)."""
    done = subprocess.run(
        [sys.executable, "-m", "vigie.backend", "--add-user", name, "--role", role, "--data-dir", data_dir],
        cwd=ROOT,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def refused(fn) -> grpc.RpcError:
    try:
        fn()
    except grpc.RpcError as exc:
        return exc
    raise AssertionError("the call was accepted")


def test_a_password_reset_ends_the_old_sessions(make_backend):
    data = tempfile.mkdtemp(prefix="vigie-creds-")
    add_user(data, "carol", "OPERATOR", "first-password")
    b = make_backend("--data-dir", data, "--lights", "0", "--vehicles", "0", demo_users=False).start()
    old = login(b.address, "carol", "first-password")
    ch = bearer_channel(b.address, old.token)
    auth = auth_pb2_grpc.AuthServiceStub(ch)
    assets = assets_pb2_grpc.AssetServiceStub(ch)
    refreshed = auth.Refresh(auth_pb2.RefreshRequest(), timeout=10)  # a second token, same session
    stream = assets.WatchAssets(assets_pb2.WatchAssetsRequest(), timeout=120)
    ended = threading.Event()
    errors: list[grpc.RpcError] = []

    def read() -> None:
        try:
            for _ in stream:
                pass
        except grpc.RpcError as exc:
            errors.append(exc)
        finally:
            ended.set()

    threading.Thread(target=read, daemon=True).start()
    assert assets.ListAssets(assets_pb2.ListAssetsRequest(page_size=1), timeout=10) is not None

    add_user(data, "carol", "OPERATOR", "second-password")

    # The open stream is cut as soon as the backend sees the reset...
    assert ended.wait(15), "the session opened with the old password is still alive"
    assert errors and errors[0].code() == grpc.StatusCode.UNAUTHENTICATED
    assert errors[0].details().startswith("token revoked")
    # ... and neither token of that session, nor its refresh, works any more.
    for token in (old.token, refreshed.token):
        with bearer_channel(b.address, token) as tch:
            err = refused(
                lambda tch=tch: assets_pb2_grpc.AssetServiceStub(tch).ListAssets(
                    assets_pb2.ListAssetsRequest(page_size=1), timeout=10
                )
            )
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
            err = refused(
                lambda tch=tch: auth_pb2_grpc.AuthServiceStub(tch).Refresh(
                    auth_pb2.RefreshRequest(), timeout=10
                )
            )
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert refused(lambda: login(b.address, "carol", "first-password")).code() == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    fresh = login(b.address, "carol", "second-password")
    with bearer_channel(b.address, fresh.token) as fch:
        assert assets_pb2_grpc.AssetServiceStub(fch).ListAssets(
            assets_pb2.ListAssetsRequest(page_size=1), timeout=10
        )
    ch.close()


def test_a_database_from_before_credentials_versions_is_migrated(tmp_path: Path):
    path = tmp_path / "users.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE users (name TEXT PRIMARY KEY, role INTEGER NOT NULL, password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, updated_at REAL NOT NULL);
        INSERT INTO users VALUES ('erin', 2, 'scrypt$hash', 0, 1.0, 1.0);
        """
    )
    conn.commit()
    conn.close()
    add_user(str(tmp_path), "erin", "OPERATOR", "a-new-password")  # the CLI on the old file
    db = UserDB(str(tmp_path))
    try:
        row = db.get("erin")
        assert row is not None and row.credentials_version == 2 and row.password_hash != "scrypt$hash"
        assert db.credentials_versions() == {"erin": 2}
    finally:
        db.close()
