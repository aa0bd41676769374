"""LoginGuard on a hand-driven clock: waits grow per user name and per peer, capped; in-flight
limits are per key; successes, time and a bounded memory forget failures."""

from __future__ import annotations

import pytest

from vigie.backend.security.login_guard import LoginGuard, peer_address


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(guard: LoginGuard, peer: str, user: str, times: int = 1) -> None:
    for _ in range(times):
        assert guard.admit(peer, user) is None
        guard.release(peer, user, ok=False)


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:10.0.0.7:51234", "ipv4:10.0.0.7"),
        ("ipv6:[::1]:51234", "ipv6:[::1]"),
        ("ipv6:[fd00::2]:8", "ipv6:[fd00::2]"),
        ("unix:/run/vigie.sock", "unix:/run/vigie.sock"),
    ],
)
def test_peer_address_drops_the_port(peer, address):
    assert peer_address(peer) == address


def test_the_wait_doubles_after_the_free_failures_and_is_capped():
    clock = Clock()
    guard = LoginGuard(user_free=3, peer_free=1000, base_s=0.5, max_s=30.0, clock=clock)
    fail(guard, "p", "alice", 3)
    assert guard.admit("p", "alice") is None, "three typos cost nothing"
    guard.release("p", "alice", ok=False)
    waits = []
    for _ in range(9):
        refusal = guard.admit("p", "alice")
        assert refusal is not None and "this user" in refusal.reason
        waits.append(refusal.retry_after_s)
        clock.now += refusal.retry_after_s  # the announced wait is enough
        fail(guard, "p", "alice")
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    # Refused attempts do not count: the wait does not grow while the caller is refused.
    assert guard.admit("p", "alice").retry_after_s == 30.0
    assert guard.admit("p", "alice").retry_after_s == 30.0
    # Another user, from the same peer, is not slowed down.
    assert guard.admit("p", "bob") is None


def test_a_peer_that_guesses_many_names_waits_too_but_not_the_other_peers():
    clock = Clock()
    guard = LoginGuard(user_free=3, peer_free=10, base_s=0.5, clock=clock)
    for i in range(11):
        fail(guard, "ipv4:10.6.6.6", f"user{i}")
    refusal = guard.admit("ipv4:10.6.6.6", "fresh-name")
    assert refusal is not None and "this address" in refusal.reason and refusal.retry_after_s == 0.5
    assert guard.admit("ipv4:10.0.0.1", "fresh-name") is None


def test_in_flight_limits_are_per_peer_and_per_user_name():
    guard = LoginGuard(per_peer=2, per_user=2, total=5, clock=Clock())
    assert guard.admit("a", "u1") is None and guard.admit("a", "u2") is None
    assert "from this address" in guard.admit("a", "u3").reason
    assert guard.admit("b", "u1") is None
    assert "for this user" in guard.admit("c", "u1").reason
    assert guard.admit("c", "u3") is None and guard.admit("d", "u4") is None
    assert "at once" in guard.admit("e", "u5").reason, "the overall bound"
    guard.release("a", "u1", ok=True)
    assert guard.admit("a", "u3") is None


def test_success_clears_the_user_not_the_peer_and_time_forgets_both():
    clock = Clock()
    guard = LoginGuard(user_free=0, peer_free=0, base_s=1.0, forget_s=900.0, clock=clock)
    fail(guard, "p", "alice", 1)
    clock.now += 1.0
    assert guard.admit("p", "alice") is None
    guard.release("p", "alice", ok=True)
    assert guard.admit("q", "alice") is None, "the user's failures are cleared"
    guard.release("q", "alice", ok=True)
    assert guard.admit("p", "bob") is None, "the peer's one failure waited 1 s already"
    guard.release("p", "bob", ok=False)
    assert guard.admit("p", "carol").retry_after_s == 2.0, "the peer's failures are not cleared"
    clock.now += 900.0
    assert guard.admit("p", "carol") is None, "forgotten after forget_s"


def test_memory_is_bounded():
    guard = LoginGuard(user_free=0, peer_free=0, max_keys=100, clock=Clock())
    for i in range(1000):
        fail(guard, f"p{i}", f"u{i}")
    assert len(guard._failures) == 100 and not guard._in_flight
