"""Bearer tokens: opaque random strings, checked against a server-side registry.

A login opens a *login session*; the session holds one or more tokens (Refresh adds a fresh one
and leaves the old one valid until it expires, so calls in flight are not cut). Each token expires
`ttl` seconds after it was issued. Revoking a session (Logout) or every session of a user
(RevokeUser, disabling a user, changing their role) invalidates all its tokens at once and calls
the session's revocation callbacks: the interceptor registers one per open stream of that session,
which ends it UNAUTHENTICATED "token revoked" at once.

Streams opened before a token *expires* are not cut: they were authenticated when they opened,
and a console refreshes its token for new calls. Only revocation ends streams.

The registry lives in memory, on the asyncio loop's thread (no locking; callbacks run there too): a backend restart logs
every console out. Tokens are kept by their SHA-256, never in clear."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vigie.backend.security.principal import Role

TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 256
TOKENS_PER_SESSION = 8  # a session's older tokens are forgotten beyond this (Refresh in a loop)
CREDENTIALS_CHANGED = "token revoked: the password changed, log in again"
FORGET_AFTER_S = 3600.0  # an expired or revoked token is still recognised (clear reason) this long


class TokenRejected(Exception):
    """The token cannot be used; str(exc) is the reason given to the caller."""


@dataclass(eq=False)
class LoginSession:
    id: str
    user: str
    role: Role
    console: str
    created_at: float
    credentials_version: int = 1  # the user's, at login
    revoked: bool = False
    token_ids: set[str] = field(default_factory=set)
    on_revoke: set[Callable[[], None]] = field(default_factory=set)  # one per open stream

    def revoke(self) -> None:
        if not self.revoked:
            self.revoked = True
            for callback in list(self.on_revoke):
                callback()
            self.on_revoke.clear()


@dataclass(eq=False)
class TokenEntry:
    id: str  # public: shown in principals, logs and the audit trail; not the secret
    session: LoginSession
    issued_at: float
    expires_at: float
    digest: str = ""  # the key in the registry (the token itself is never kept)


@dataclass(frozen=True)
class Issued:
    token: str  # the secret, returned to the client once
    entry: TokenEntry


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class TokenRegistry:
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._by_digest: dict[str, TokenEntry] = {}
        self._by_id: dict[str, TokenEntry] = {}
        self._sessions: dict[str, LoginSession] = {}
        self._versions: dict[str, int] = {}  # user -> the newest credentials version known
        self._last_prune = 0.0

    def login(self, user: str, role: Role, console: str, credentials_version: int = 1) -> Issued:
        """A new login session with its first token."""
        self._prune()
        session = LoginSession(secrets.token_hex(8), user, role, console, self.clock(), credentials_version)
        self._sessions[session.id] = session
        return self._issue(session)

    def _issue(self, session: LoginSession) -> Issued:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        entry = TokenEntry(secrets.token_hex(8), session, now, now + self.ttl_s, _digest(token))
        if len(session.token_ids) >= TOKENS_PER_SESSION:  # bounded memory, whatever a client does
            oldest = min((self._by_id[t] for t in session.token_ids), key=lambda e: e.issued_at)
            self._forget(oldest)
        if now - self._last_prune > 1.0:
            self._prune()
        self._by_digest[entry.digest] = entry
        self._by_id[entry.id] = entry
        session.token_ids.add(entry.id)
        return Issued(token, entry)

    def refresh(self, token_id: str) -> Issued:
        """A fresh token in the same login session as the (valid) token `token_id`."""
        entry = self._valid(self._by_id.get(token_id))
        return self._issue(entry.session)

    def check(self, token: str) -> TokenEntry:
        """The entry of a usable token; raises TokenRejected with the reason."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise TokenRejected("malformed token")
        return self._valid(self._by_digest.get(_digest(token)))

    def entry(self, token_id: str) -> TokenEntry | None:
        return self._by_id.get(token_id)

    def _valid(self, entry: TokenEntry | None) -> TokenEntry:
        if entry is None:
            raise TokenRejected("unknown token (expired long ago, or from a backend that restarted)")
        if entry.session.revoked:
            raise TokenRejected("token revoked")
        if entry.session.credentials_version < self._versions.get(entry.session.user, 0):
            entry.session.revoke()
            raise TokenRejected(CREDENTIALS_CHANGED)
        if self.clock() >= entry.expires_at:
            raise TokenRejected("token expired")
        return entry

    def revoke_session(self, session_id: str) -> int:
        """Revoke every token of a login session; returns how many were still valid."""
        session = self._sessions.get(session_id)
        if session is None or session.revoked:
            return 0
        now = self.clock()
        live = sum(1 for t in session.token_ids if now < self._by_id[t].expires_at)
        session.revoke()
        return live

    def set_credentials_versions(self, versions: dict[str, int]) -> int:
        """The users' current credentials versions: revoke every session opened under an older
        one (their streams end). Returns how many sessions were revoked."""
        self._versions.update(versions)
        stale = [
            s
            for s in self._sessions.values()
            if not s.revoked and s.credentials_version < self._versions.get(s.user, 0)
        ]
        for s in stale:
            s.revoke()
        return len(stale)

    def revoke_user(self, user: str) -> int:
        """Revoke every session of `user`; returns how many tokens were still valid."""
        return sum(self.revoke_session(s.id) for s in list(self._sessions.values()) if s.user == user)

    def _prune(self) -> None:
        """Forget tokens that expired (or sessions revoked) over FORGET_AFTER_S ago."""
        horizon = self.clock() - FORGET_AFTER_S
        self._last_prune = self.clock()
        for entry in list(self._by_id.values()):
            if entry.expires_at < horizon:
                self._forget(entry)

    def _forget(self, entry: TokenEntry) -> None:
        self._by_id.pop(entry.id, None)
        self._by_digest.pop(entry.digest, None)
        entry.session.token_ids.discard(entry.id)
        if not entry.session.token_ids:
            self._sessions.pop(entry.session.id, None)
