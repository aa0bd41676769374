"""Login throttling: per peer and per user name, never for everyone at once.

Each login costs a scrypt (backend/security/passwords.py), so a flood must not queue work without
end, and guessing must get slower with every wrong guess. Limits are kept per *peer* (the caller's
address without its port) and per *user name*, so an attack on one name from one machine slows
that name and that machine only: a user who is not attacked, logging in from elsewhere, is never
refused.

- In flight: at most `per_peer` logins per peer and `per_user` per user name being checked at
  once (a generous `total` bounds the queue if a flood comes from many peers).
- After a few failures (`user_free` for a user name: typos; `peer_free` for a peer: the consoles
  of a room may share an address), the next attempt for that user name, or from that peer, waits
  a delay that doubles with each further failure (`base_s`, 2 x `base_s`, ... up to `max_s`);
  earlier attempts are refused at once, without a scrypt, and do not count as failures. A success
  clears the user name's failures (not the peer's: one valid account must not reset a guesser's
  address); a key forgets its failures after `forget_s` without one.

Lives on the event loop's thread (no locking). Memory is bounded: at most `max_keys` user names
and peers are remembered (the oldest failures are forgotten first)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


def peer_address(peer: str) -> str:
    """gRPC's peer string without the port: "ipv4:10.0.0.7:51234" -> "ipv4:10.0.0.7",
    "ipv6:[::1]:51234" -> "ipv6:[::1]"; anything else (unix sockets) as it is."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return f"ipv4:{rest.rsplit(':', 1)[0]}"
    if kind == "ipv6" and rest.startswith("["):
        return f"ipv6:{rest.split(']', 1)[0]}]"
    return peer


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0  # clock() of the last failure


@dataclass(frozen=True)
class Refusal:
    reason: str  # said to the caller (RESOURCE_EXHAUSTED) and written to the audit trail
    retry_after_s: float  # 0 when it is a matter of logins in flight


class LoginGuard:
    def __init__(
        self,
        per_peer: int = 4,
        per_user: int = 4,
        total: int = 64,
        user_free: int = 3,
        peer_free: int = 10,
        base_s: float = 0.5,
        max_s: float = 30.0,
        forget_s: float = 900.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_peer, self.per_user, self.total = per_peer, per_user, total
        self.user_free, self.peer_free = user_free, peer_free
        self.base_s, self.max_s, self.forget_s = base_s, max_s, forget_s
        self.max_keys = max_keys
        self.clock = clock
        self._in_flight: dict[str, int] = {}  # "peer:..." / "user:..." -> logins being checked
        self._total = 0
        self._failures: OrderedDict[str, _Failures] = OrderedDict()  # oldest failure first

    def delay_after(self, failures: int, free: int) -> float:
        """The wait after `failures` failures of a key allowed `free` ones without a wait."""
        beyond = failures - free
        if beyond <= 0:
            return 0.0
        return min(self.max_s, self.base_s * 2.0 ** min(beyond - 1, 60))

    def admit(self, peer: str, user: str) -> Refusal | None:
        """None and a slot reserved (the caller must `release` it), or why not now."""
        now = self.clock()
        for key, what, free in (
            (f"user:{user}", "this user", self.user_free),
            (f"peer:{peer}", "this address", self.peer_free),
        ):
            f = self._failures.get(key)
            if f is None:
                continue
            if now - f.last >= self.forget_s:
                del self._failures[key]
                continue
            wait = f.last + self.delay_after(f.count, free) - now
            if wait > 0:
                return Refusal(f"too many failed logins for {what}: try again in {math.ceil(wait)} s", wait)
        peer_key, user_key = f"peer:{peer}", f"user:{user}"
        if self._in_flight.get(peer_key, 0) >= self.per_peer:
            return Refusal("too many logins at once from this address: try again in a moment", 0.0)
        if self._in_flight.get(user_key, 0) >= self.per_user:
            return Refusal("too many logins at once for this user: try again in a moment", 0.0)
        if self._total >= self.total:
            return Refusal("too many logins at once: try again in a moment", 0.0)
        for key in (peer_key, user_key):
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
        self._total += 1
        return None

    def release(self, peer: str, user: str, ok: bool) -> None:
        """The admitted login ended: `ok` when the password matched."""
        for key in (f"peer:{peer}", f"user:{user}"):
            left = self._in_flight[key] - 1
            if left:
                self._in_flight[key] = left
            else:
                del self._in_flight[key]
        self._total -= 1
        if ok:
            self._failures.pop(f"user:{user}", None)
            return
        now = self.clock()
        for key in (f"peer:{peer}", f"user:{user}"):
            f = self._failures.pop(key, None) or _Failures()
            if now - f.last >= self.forget_s:
                f.count = 0
            f.count += 1
            f.last = now
            self._failures[key] = f  # moves to the end: the newest failure
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
