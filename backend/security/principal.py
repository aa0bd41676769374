"""Who is calling: set by the authorisation interceptor for the duration of one RPC.

Services read `current()` to know the user, role and console of the call (for the audit trail
and for checks that depend on the request's content, such as critical commands)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    """Same numbers as vigie.v1.Role; ordered, each role may do what the lower ones may."""

    VIEWER = 1
    OPERATOR = 2
    SUPERVISOR = 3
    ADMIN = 4


@dataclass(frozen=True)
class Principal:
    user: str
    role: Role
    console: str = ""
    token_id: str = ""


# A backend with no interceptor (some unit tests) runs every call as this one.
ANONYMOUS = Principal(user="anonymous", role=Role.ADMIN, console="")

_current: ContextVar[Principal] = ContextVar("vigie_principal", default=ANONYMOUS)


def current() -> Principal:
    return _current.get()


def set_current(principal: Principal) -> object:
    """Returns a token for `reset_current` (contextvars.Token)."""
    return _current.set(principal)


def reset_current(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
