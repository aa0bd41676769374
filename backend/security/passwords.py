"""Password hashing: salted scrypt, parameters stored with each hash so they can be raised later.

N=2^15, r=8, p=1 (32 MiB, ~0.1-0.2 s per hash here) are the usual parameters for interactive
logins: slow and memory-hard enough that a stolen users.sqlite3 is expensive to attack, fast
enough that a login stays interactive. These functions are CPU-bound: callers on the asyncio loop
run them in a thread (`backend.security.users.UserDirectory` does)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
N, R, P = 2**15, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
MAXMEM = 64 * 1024 * 1024  # OpenSSL's default cap (32 MiB) is just below what N=2^15, r=8 needs
MAX_PASSWORD_CHARS = 1024  # bounds the work one login can ask for


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _kdf(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAXMEM, dklen=KEY_BYTES)


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$key` (base64), a fresh random salt each time."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _kdf(password, salt, N, R, P)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; constant-time comparison of the derived keys.
    A malformed stored hash never matches (and never raises)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(key, validate=True)
        derived = _kdf(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, expected)


@functools.cache
def dummy_hash() -> str:
    """Verified against when the user does not exist, so an unknown name costs as much time as a
    wrong password (no user enumeration by timing)."""
    return hash_password(secrets.token_urlsafe(16))
