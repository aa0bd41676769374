"""AuthService on real backends: login, refresh, logout, whoami, expiry, revocation of open
streams, user management, `--add-user` and a backend without demo users. Deadlines, no sleeps."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import time

import grpc
import pytest

from tests.conftest import ROOT, bearer_channel, login, open_channel
from vigie.v1 import alarms_pb2, alarms_pb2_grpc, assets_pb2, assets_pb2_grpc, auth_pb2, auth_pb2_grpc

LIGHT = ("--lights", "0", "--vehicles", "0")  # a small city: these tests are about tokens
Auth = auth_pb2


@pytest.fixture(scope="module")
def small(request):
    from tests.conftest import BackendProcess

    # Heartbeats every 5 s (the default): a stream cut faster than that was cut by the revocation.
    b = BackendProcess(*LIGHT, "--heartbeat", "5").start()
    request.addfinalizer(b.stop)
    return b


def code_of(fn) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        fn()
    return err.value.code(), err.value.details()


def whoami(ch: grpc.Channel) -> auth_pb2.WhoAmIResponse:
    return auth_pb2_grpc.AuthServiceStub(ch).WhoAmI(Auth.WhoAmIRequest(), timeout=5)


def list_assets(ch: grpc.Channel) -> assets_pb2.ListAssetsResponse:
    return assets_pb2_grpc.AssetServiceStub(ch).ListAssets(
        assets_pb2.ListAssetsRequest(page_size=1), timeout=5
    )


def test_login_whoami_refresh_logout(small):
    t0 = time.time()
    first = login(small.address, "operator")
    assert first.user == "operator" and first.role == Auth.OPERATOR and len(first.token) >= 40
    assert 890 <= first.expires_at.seconds - t0 <= 910  # the default --token-ttl 900
    with bearer_channel(small.address, first.token) as ch:
        me = whoami(ch)
        assert (me.user, me.role, me.console) == ("operator", Auth.OPERATOR, "pytest")
        assert me.expires_at == first.expires_at
        fresh = auth_pb2_grpc.AuthServiceStub(ch).Refresh(Auth.RefreshRequest(), timeout=5)
    assert fresh.token != first.token and fresh.user == "operator"
    assert fresh.expires_at.ToNanoseconds() >= first.expires_at.ToNanoseconds()
    with bearer_channel(small.address, first.token) as old, bearer_channel(small.address, fresh.token) as new:
        assert list_assets(old).total_size > 0  # the old token stays valid until it expires
        assert list_assets(new).total_size > 0
        auth_pb2_grpc.AuthServiceStub(new).Logout(Auth.LogoutRequest(), timeout=5)
        # Logout ends the login session: the token it was refreshed from goes too.
        for ch in (old, new):
            code, details = code_of(lambda ch=ch: list_assets(ch))
            assert code == grpc.StatusCode.UNAUTHENTICATED and details == "token revoked"


def test_wrong_password_and_unknown_user_get_the_same_answer(small):
    wrong = code_of(lambda: login(small.address, "operator", password="not-the-password"))
    unknown = code_of(lambda: login(small.address, "mallory", password="operator"))
    assert wrong == unknown == (grpc.StatusCode.UNAUTHENTICATED, "wrong user or password")


@pytest.mark.parametrize(
    ("user", "password", "console", "needle"),
    [
        ("", "x", "", "required"),
        ("operator", "", "", "required"),
        ("u" * 65, "operator", "", "user must be at most 64"),
        ("operator", "p" * 1025, "", "password must be at most 1024"),
        ("operator", "operator", "c" * 65, "console must be at most 64"),
    ],
)
def test_login_limits(small, user, password, console, needle):
    with open_channel(small.address, user=None) as ch:
        stub = auth_pb2_grpc.AuthServiceStub(ch)
        code, details = code_of(
            lambda: stub.Login(Auth.LoginRequest(user=user, password=password, console=console), timeout=5)
        )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and needle in details


def test_tokens_expire_but_streams_opened_before_go_on(make_backend):
    b = make_backend(*LIGHT, "--token-ttl", "2", "--heartbeat", "0.2").start()
    issued = login(b.address, "viewer")
    with bearer_channel(b.address, issued.token) as ch:
        stream = iter(
            assets_pb2_grpc.AssetServiceStub(ch).WatchAssets(assets_pb2.WatchAssetsRequest(), timeout=120)
        )
        next(stream)
        # The stream's heartbeats (every 0.2 s) pace the wait until the expiry has passed; the
        # stream was authenticated when it opened, so it keeps flowing through it.
        for msg in stream:
            assert msg.revision > 0
            if time.time() > issued.expires_at.seconds + 1:
                break
        code, details = code_of(lambda: list_assets(ch))
        assert code == grpc.StatusCode.UNAUTHENTICATED and details == "token expired"
        for _ in range(3):
            assert next(stream).revision > 0
        code, details = code_of(
            lambda: auth_pb2_grpc.AuthServiceStub(ch).Refresh(Auth.RefreshRequest(), timeout=5)
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED and details == "token expired"


def read_until_error(stream) -> grpc.RpcError:
    try:
        for _ in stream:
            pass
    except grpc.RpcError as exc:
        return exc
    raise AssertionError("the stream ended without an error")


def test_revoking_a_user_ends_their_open_streams(small):
    op = open_channel(small.address, "operator")
    admin = auth_pb2_grpc.AuthServiceStub(open_channel(small.address, "admin"))
    assets = assets_pb2_grpc.AssetServiceStub(op).WatchAssets(assets_pb2.WatchAssetsRequest(), timeout=60)
    alarms = alarms_pb2_grpc.AlarmServiceStub(op).WatchAlarms(alarms_pb2.WatchAlarmsRequest(), timeout=60)
    next(assets), next(alarms)
    revoked = admin.RevokeUser(Auth.RevokeUserRequest(name="operator"), timeout=5)
    assert revoked.tokens_revoked >= 1
    for stream in (assets, alarms):
        err = read_until_error(stream)
        # Ended by the revocation (UNAUTHENTICATED), long before the stream's own 60 s deadline.
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED and err.details() == "token revoked"
    code, _ = code_of(lambda: list_assets(op))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    # Other users' streams are not touched, and the operator may log in again.
    with open_channel(small.address, "viewer") as viewer:
        watch = assets_pb2_grpc.AssetServiceStub(viewer).WatchAssets(
            assets_pb2.WatchAssetsRequest(), timeout=60
        )
        next(watch)
        admin.RevokeUser(Auth.RevokeUserRequest(name="supervisor"), timeout=5)
        assert next(watch).revision > 0
        watch.cancel()
    assert list_assets(open_channel(small.address, "operator")).total_size > 0


def test_logout_ends_the_sessions_streams(small):
    issued = login(small.address, "viewer")
    with bearer_channel(small.address, issued.token) as ch:
        stream = assets_pb2_grpc.AssetServiceStub(ch).WatchAssets(assets_pb2.WatchAssetsRequest(), timeout=60)
        next(stream)
        with open_channel(small.address, "viewer") as other:  # another login of the same user
            other_stream = assets_pb2_grpc.AssetServiceStub(other).WatchAssets(
                assets_pb2.WatchAssetsRequest(), timeout=60
            )
            next(other_stream)
            auth_pb2_grpc.AuthServiceStub(ch).Logout(Auth.LogoutRequest(), timeout=5)
            err = read_until_error(stream)  # not the stream's 60 s deadline: the logout
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED and err.details() == "token revoked"
            assert next(other_stream).revision > 0  # only that login session ends
            other_stream.cancel()


def test_admin_manages_users(small):
    admin = auth_pb2_grpc.AuthServiceStub(open_channel(small.address, "admin"))
    created = admin.CreateUser(
        Auth.CreateUserRequest(name="alice", password="correct horse", role=Auth.OPERATOR)
    )
    assert created.name == "alice" and created.role == Auth.OPERATOR and not created.disabled
    assert created.created_at.seconds > 0
    users = {u.name: u for u in admin.ListUsers(Auth.ListUsersRequest(), timeout=5).users}
    assert {"viewer", "operator", "supervisor", "admin", "alice"} <= set(users)
    assert users["admin"].role == Auth.ADMIN
    bad = [
        (Auth.CreateUserRequest(name="alice", password="another pass", role=Auth.VIEWER), "ALREADY_EXISTS"),
        (
            Auth.CreateUserRequest(name="bad name", password="long enough", role=Auth.VIEWER),
            "INVALID_ARGUMENT",
        ),
        (Auth.CreateUserRequest(name="n" * 65, password="long enough", role=Auth.VIEWER), "INVALID_ARGUMENT"),
        (Auth.CreateUserRequest(name="bob", password="short", role=Auth.VIEWER), "INVALID_ARGUMENT"),
        (Auth.CreateUserRequest(name="bob", password="p" * 1025, role=Auth.VIEWER), "INVALID_ARGUMENT"),
        (Auth.CreateUserRequest(name="bob", password="long enough"), "INVALID_ARGUMENT"),
        (Auth.CreateUserRequest(name="bob", password="long enough", role=9), "INVALID_ARGUMENT"),
    ]
    for req, want in bad:
        code, _ = code_of(lambda req=req: admin.CreateUser(req, timeout=5))
        assert code.name == want, req

    # A role change revokes the user's tokens; the next login has the new role.
    alice = bearer_channel(small.address, login(small.address, "alice", "correct horse").token)
    assert whoami(alice).role == Auth.OPERATOR
    updated = admin.UpdateUser(Auth.UpdateUserRequest(name="alice", role=Auth.SUPERVISOR), timeout=5)
    assert updated.role == Auth.SUPERVISOR
    assert code_of(lambda: whoami(alice)) == (grpc.StatusCode.UNAUTHENTICATED, "token revoked")
    assert login(small.address, "alice", "correct horse").role == Auth.SUPERVISOR

    # Disabled: no login (the password was right, so it may say why), tokens revoked.
    again = bearer_channel(small.address, login(small.address, "alice", "correct horse").token)
    assert admin.UpdateUser(Auth.UpdateUserRequest(name="alice", disabled=True), timeout=5).disabled
    assert code_of(lambda: whoami(again))[0] == grpc.StatusCode.UNAUTHENTICATED
    code, details = code_of(lambda: login(small.address, "alice", "correct horse"))
    assert code == grpc.StatusCode.UNAUTHENTICATED and "disabled" in details
    assert code_of(lambda: login(small.address, "alice", "wrong horse")) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "wrong user or password",
    )
    admin.UpdateUser(Auth.UpdateUserRequest(name="alice", disabled=False), timeout=5)
    assert login(small.address, "alice", "correct horse").user == "alice"

    assert code_of(lambda: admin.UpdateUser(Auth.UpdateUserRequest(name="nobody"), timeout=5))[0] == (
        grpc.StatusCode.NOT_FOUND
    )
    assert code_of(lambda: admin.UpdateUser(Auth.UpdateUserRequest(name="alice", role=7), timeout=5))[0] == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert code_of(lambda: admin.RevokeUser(Auth.RevokeUserRequest(name="nobody"), timeout=5))[0] == (
        grpc.StatusCode.NOT_FOUND
    )
    # The last enabled admin cannot be disabled or demoted: nobody could manage users any more.
    for req in (
        Auth.UpdateUserRequest(name="admin", disabled=True),
        Auth.UpdateUserRequest(name="admin", role=Auth.OPERATOR),
    ):
        code, details = code_of(lambda req=req: admin.UpdateUser(req, timeout=5))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "last enabled ADMIN" in details
    # Only an admin manages users.
    op = auth_pb2_grpc.AuthServiceStub(open_channel(small.address, "operator"))
    code, details = code_of(lambda: op.ListUsers(Auth.ListUsersRequest(), timeout=5))
    assert code == grpc.StatusCode.PERMISSION_DENIED and details == "needs role ADMIN, you are OPERATOR"


def add_user(data_dir: str, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigie.backend", "--data-dir", data_dir, *args],
        input=password,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_add_user_then_login_on_a_backend_without_demo_users(make_backend):
    data = tempfile.mkdtemp(prefix="vigie-users-")
    done = add_user(data, "--add-user", "carol", "--role", "supervisor", password="s3cret pass\n")
    assert done.returncode == 0, done.stderr
    assert "carol created with role SUPERVISOR" in done.stdout
    assert stat.S_IMODE(os.stat(f"{data}/users.sqlite3").st_mode) == 0o600  # hashes: owner only
    assert add_user(data, "--add-user", "carol", "--role", "wizard", password="s3cret pass\n").returncode == 2
    short = add_user(data, "--add-user", "dave", "--role", "viewer", password="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    bad_name = add_user(data, "--add-user", "da ve", "--role", "viewer", password="long enough\n")
    assert bad_name.returncode == 2 and "name must be" in bad_name.stderr

    b = make_backend(*LIGHT, "--data-dir", data, demo_users=False).start()
    carol = login(b.address, "carol", "s3cret pass")
    assert carol.role == Auth.SUPERVISOR
    # No demo users without --demo-users: operator/operator is refused.
    assert code_of(lambda: login(b.address, "operator")) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "wrong user or password",
    )
    # Running --add-user again resets the password (and role), even while the backend runs.
    reset = add_user(data, "--add-user", "carol", "--role", "admin", password="new s3cret\n")
    assert reset.returncode == 0 and "carol updated" in reset.stdout
    assert login(b.address, "carol", "new s3cret").role == Auth.ADMIN
    assert code_of(lambda: login(b.address, "carol", "s3cret pass"))[0] == grpc.StatusCode.UNAUTHENTICATED


def test_demo_users_are_announced_and_seeded_once(make_backend, tmp_path):
    data = str(tmp_path / "data")
    log = tmp_path / "stderr.txt"
    b = make_backend(*LIGHT, "--data-dir", data, stderr=log).start()
    first = {
        u.name: u.created_at
        for u in auth_pb2_grpc.AuthServiceStub(open_channel(b.address, "admin"))
        .ListUsers(Auth.ListUsersRequest(), timeout=5)
        .users
    }
    b.stop()
    b.start()
    again = {
        u.name: u.created_at
        for u in auth_pb2_grpc.AuthServiceStub(open_channel(b.address, "admin"))
        .ListUsers(Auth.ListUsersRequest(), timeout=5)
        .users
    }
    assert first == again and set(first) == {"viewer", "operator", "supervisor", "admin"}
    text = log.read_text()
    assert text.count("WARNING") >= 2 and "demo users are on" in text


def test_a_role_change_keeps_a_disabled_account_disabled(small):
    with open_channel(small.address, "admin") as ch:
        admin = auth_pb2_grpc.AuthServiceStub(ch)
        admin.CreateUser(
            Auth.CreateUserRequest(name="dora", password="long enough", role=Auth.VIEWER), timeout=5
        )
        admin.UpdateUser(Auth.UpdateUserRequest(name="dora", disabled=True), timeout=5)
        after = admin.UpdateUser(Auth.UpdateUserRequest(name="dora", role=Auth.OPERATOR), timeout=5)
        assert after.disabled and after.role == Auth.OPERATOR, "an unset `disabled` leaves it as it was"
        enabled = admin.UpdateUser(Auth.UpdateUserRequest(name="dora", disabled=False), timeout=5)
        assert not enabled.disabled


def test_refreshing_a_token_never_outlives_a_changed_account(small):
    """Tokens keep the role of their login: a refresh re-reads the account and ends the session
    when it changed (here: disabled while the token's session was still open)."""
    with open_channel(small.address, "admin") as ch:
        auth_pb2_grpc.AuthServiceStub(ch).CreateUser(
            Auth.CreateUserRequest(name="eve", password="long enough", role=Auth.OPERATOR), timeout=5
        )
    token = login(small.address, "eve", "long enough").token
    with bearer_channel(small.address, token) as ch:
        auth_pb2_grpc.AuthServiceStub(ch).Refresh(Auth.RefreshRequest(), timeout=5)  # still fine
        with open_channel(small.address, "admin") as adm:
            auth_pb2_grpc.AuthServiceStub(adm).UpdateUser(
                Auth.UpdateUserRequest(name="eve", disabled=True), timeout=5
            )
        code, _ = code_of(lambda: auth_pb2_grpc.AuthServiceStub(ch).Refresh(Auth.RefreshRequest(), timeout=5))
        assert code == grpc.StatusCode.UNAUTHENTICATED
