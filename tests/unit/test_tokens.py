"""The token registry with a fake clock: expiry, refresh, revocation of sessions and users."""

from __future__ import annotations

import pytest

from vigie.backend.security.principal import Role
from vigie.backend.security.tokens import FORGET_AFTER_S, TokenRegistry, TokenRejected


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def reason(registry: TokenRegistry, token: str) -> str:
    with pytest.raises(TokenRejected) as err:
        registry.check(token)
    return str(err.value)


def test_tokens_are_random_checked_and_expire():
    clock = Clock()
    reg = TokenRegistry(ttl_s=60, clock=clock)
    a, b = reg.login("op", Role.OPERATOR, "c1"), reg.login("op", Role.OPERATOR, "c1")
    assert a.token != b.token and len(a.token) >= 40 and a.entry.id not in a.token
    assert reg.check(a.token).session.user == "op" and a.entry.expires_at == clock.now + 60
    clock.now += 59.9
    assert reg.check(a.token) is a.entry
    clock.now += 0.1
    assert reason(reg, a.token) == "token expired"
    assert reason(reg, "") == "malformed token" and reason(reg, "x" * 300) == "malformed token"
    assert reason(reg, "no-such-token").startswith("unknown token")
    clock.now += FORGET_AFTER_S + 1
    reg.login("other", Role.VIEWER, "")  # logins prune what expired long ago
    assert reason(reg, a.token).startswith("unknown token")


def test_refresh_keeps_the_session_and_the_old_token():
    clock = Clock()
    reg = TokenRegistry(ttl_s=60, clock=clock)
    first = reg.login("op", Role.OPERATOR, "c1")
    clock.now += 30
    second = reg.refresh(first.entry.id)
    assert second.entry.session is first.entry.session and second.entry.expires_at == clock.now + 60
    assert reg.check(first.token) and reg.check(second.token)
    clock.now += 31
    assert reason(reg, first.token) == "token expired" and reg.check(second.token)
    with pytest.raises(TokenRejected):
        reg.refresh(first.entry.id)  # an expired token cannot be refreshed


def test_revoking_a_session_or_a_user():
    reg = TokenRegistry(ttl_s=60, clock=Clock())
    a = reg.login("op", Role.OPERATOR, "c1")
    a2 = reg.refresh(a.entry.id)
    calls: list[str] = []
    a.entry.session.on_revoke.add(lambda: calls.append("stream cut"))
    b = reg.login("op", Role.OPERATOR, "c2")
    c = reg.login("viewer", Role.VIEWER, "c3")
    assert reg.revoke_session(a.entry.session.id) == 2
    assert a.entry.session.revoked and not b.entry.session.revoked
    assert reason(reg, a.token) == reason(reg, a2.token) == "token revoked"
    assert reg.revoke_session(a.entry.session.id) == 0  # already revoked
    assert calls == ["stream cut"]  # once
    assert reg.revoke_user("op") == 1 and reason(reg, b.token) == "token revoked"
    assert reg.check(c.token).session.user == "viewer"
