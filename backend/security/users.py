"""Who may log in: users with a role and a salted scrypt hash, kept in `<data dir>/users.sqlite3`.

Every call is async and keeps the asyncio loop free: SQLite runs on one dedicated thread, the
password KDF on a small pool (at most two at once, so a burst of logins cannot take every core
and ~32 MiB each without bound)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from dataclasses import dataclass
from enum import Enum

from vigie.backend.security.passwords import MAX_PASSWORD_CHARS, dummy_hash, hash_password, verify_password
from vigie.backend.security.principal import Role
from vigie.backend.store.sql import Database
from vigie.backend.store.users_sqlite import UserDB, UserExists, UserRow

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
MIN_PASSWORD_CHARS = 8
DEMO_USERS = {
    "viewer": Role.VIEWER,
    "operator": Role.OPERATOR,
    "supervisor": Role.SUPERVISOR,
    "admin": Role.ADMIN,
}

__all__ = ["UserExists"]


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    disabled: bool
    created_at: float
    credentials_version: int = 1  # grows with each password reset (tokens carry it)


class LoginFailure(Enum):
    """Why a login failed: for the audit trail only; the caller always hears the same message."""

    UNKNOWN_USER = "unknown user"
    BAD_PASSWORD = "wrong password"
    DISABLED = "account disabled"


class UnknownUser(Exception):
    pass


class LastAdmin(Exception):
    """The change would leave no enabled ADMIN: nobody could manage users any more."""


def check_name(name: str) -> str | None:
    """The problem with a user name, or None."""
    if not NAME_RE.fullmatch(name):
        return "name must be 1-64 characters of A-Z a-z 0-9 . _ -"
    return None


def check_password(password: str) -> str | None:
    """The problem with a new password, or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"password must be at least {MIN_PASSWORD_CHARS} characters"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"password must be at most {MAX_PASSWORD_CHARS} characters"
    return None


def _user(row: UserRow) -> User:
    return User(row.name, Role(row.role), row.disabled, row.created_at, row.credentials_version)


class UserDirectory:
    def __init__(self, data_dir: str | None | Database) -> None:
        """`data_dir`: the users' SQLite file's directory (None: in memory), or a Database."""
        self._db_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="users-db")
        self._kdf_pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="password-kdf")
        self.db: UserDB = self._db_pool.submit(UserDB, data_dir).result()
        self._data_version: int | None = None

    async def _db(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._db_pool, fn, *args)

    async def _kdf(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._kdf_pool, fn, *args)

    async def authenticate(self, name: str, password: str) -> User | LoginFailure:
        """The user, or why not. Unknown names cost one KDF too (no enumeration by timing)."""
        row = await self._db(self.db.get, name) if NAME_RE.fullmatch(name) else None
        stored = row.password_hash if row is not None else await self._kdf(dummy_hash)
        ok = await self._kdf(verify_password, password, stored)
        if row is None:
            return LoginFailure.UNKNOWN_USER
        if not ok:
            return LoginFailure.BAD_PASSWORD
        if row.disabled:
            return LoginFailure.DISABLED
        return _user(row)

    async def credentials_versions_if_changed(self) -> dict[str, int] | None:
        """Every user's credentials version when the database changed since the last call (another
        process, e.g. `vigie-backend --add-user`, committed), else None. Cheap: one PRAGMA."""

        def read() -> dict[str, int] | None:
            version = self.db.data_version()
            if version == self._data_version:
                return None
            self._data_version = version
            return self.db.credentials_versions()

        return await self._db(read)

    async def get(self, name: str) -> User | None:
        row = await self._db(self.db.get, name)
        return _user(row) if row else None

    async def list(self) -> list[User]:
        return [_user(r) for r in await self._db(self.db.all)]

    async def create(self, name: str, password: str, role: Role) -> User:
        """Raises UserExists. The caller has checked the name and the password."""
        hashed = await self._kdf(hash_password, password)
        return _user(await self._db(self.db.insert, name, int(role), hashed))

    async def update(self, name: str, role: Role | None, disabled: bool | None) -> tuple[User, User]:
        """(before, after); None leaves a field as it is. Raises UnknownUser, or LastAdmin when no
        enabled ADMIN would be left."""

        def change() -> tuple[UserRow, UserRow]:
            before = self.db.get(name)
            if before is None:
                raise UnknownUser(name)
            new_role = int(role) if role is not None else before.role
            new_disabled = before.disabled if disabled is None else disabled
            loses_admin = before.role == Role.ADMIN and not before.disabled
            if (
                loses_admin
                and (new_role != Role.ADMIN or new_disabled)
                and self.db.count_enabled(Role.ADMIN) <= 1
            ):
                raise LastAdmin(name)
            self.db.update(name, new_role, new_disabled)
            after = self.db.get(name)
            assert after is not None
            return before, after

        before, after = await self._db(change)
        return _user(before), _user(after)

    async def seed_demo_users(self) -> list[str]:
        """Create the missing demo users (each one's password is its name); existing users, even
        with the same names, are left alone. Returns the names created."""
        created = []
        for name, role in DEMO_USERS.items():
            if await self._db(self.db.get, name) is None:
                hashed = await self._kdf(hash_password, name)
                try:
                    await self._db(self.db.insert, name, int(role), hashed)
                    created.append(name)
                except UserExists:  # another backend on the same data dir was quicker
                    pass
        return created

    async def close(self) -> None:
        await self._db(self.db.close)
        self._db_pool.shutdown(wait=True)
        self._kdf_pool.shutdown(wait=False, cancel_futures=True)
