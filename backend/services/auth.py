"""vigie.v1.AuthService: login and tokens, and (admin only, see rules.py) user management.

Logins, logouts and user changes are audited. A failed login says "wrong user or password"
whether the user exists or not (the audit record says which)."""

from __future__ import annotations

import asyncio
import logging

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from vigie.backend.domain.audit import AuditEntry, AuditSink
from vigie.backend.security import principal
from vigie.backend.security.interceptor import MAX_CONSOLE_CHARS, clean_console
from vigie.backend.security.login_guard import LoginGuard, peer_address
from vigie.backend.security.passwords import MAX_PASSWORD_CHARS
from vigie.backend.security.principal import Role
from vigie.backend.security.tokens import Issued, TokenRegistry, TokenRejected
from vigie.backend.security.users import (
    LastAdmin,
    LoginFailure,
    UnknownUser,
    User,
    UserDirectory,
    UserExists,
    check_name,
    check_password,
)
from vigie.backend.services.audit_trail import audited
from vigie.v1 import auth_pb2, auth_pb2_grpc

log = logging.getLogger(__name__)

WRONG = "wrong user or password"
MAX_NAME_CHARS = 64
ROLE_VALUES = {int(r) for r in Role}


def _ts(t: float) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(int(t * 1e9))
    return out


def user_to_pb(u: User) -> auth_pb2.User:
    return auth_pb2.User(name=u.name, role=int(u.role), disabled=u.disabled, created_at=_ts(u.created_at))  # type: ignore[arg-type]


def _login_response(issued: Issued) -> auth_pb2.LoginResponse:
    s = issued.entry.session
    return auth_pb2.LoginResponse(
        token=issued.token,
        expires_at=_ts(issued.entry.expires_at),
        user=s.user,
        role=int(s.role),  # type: ignore[arg-type]
    )


class AuthService(auth_pb2_grpc.AuthServiceServicer):
    def __init__(
        self, users: UserDirectory, tokens: TokenRegistry, audit: AuditSink, guard: LoginGuard | None = None
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.audit = audit
        self.guard = guard or LoginGuard()

    # --- tokens ---------------------------------------------------------------------------------

    async def Login(
        self, request: auth_pb2.LoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.LoginResponse:
        console = clean_console(request.console) or principal.current().console

        def record(result: str, detail: str) -> None:
            user = (
                request.user if len(request.user) <= MAX_NAME_CHARS else request.user[:MAX_NAME_CHARS] + "…"
            )
            self.audit.record(
                AuditEntry(user, console[:MAX_CONSOLE_CHARS], "login", user, "", result, detail)
            )

        problem = None
        if not request.user or not request.password:
            problem = "user and password are required"
        elif len(request.user) > MAX_NAME_CHARS:
            problem = f"user must be at most {MAX_NAME_CHARS} characters"
        elif len(request.password) > MAX_PASSWORD_CHARS:
            problem = f"password must be at most {MAX_PASSWORD_CHARS} characters"
        elif len(request.console) > MAX_CONSOLE_CHARS:
            problem = f"console must be at most {MAX_CONSOLE_CHARS} characters"
        if problem:
            record("invalid", problem)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        # Each attempt costs a scrypt: a flood must not queue work without end, and guesses get
        # slower and slower, per peer and per user name (backend/security/login_guard.py).
        # Refused before any hashing, and audited.
        peer = peer_address(context.peer())
        refusal = self.guard.admit(peer, request.user)
        if refusal is not None:
            record("refused", f"{refusal.reason} ({peer})")
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal.reason)
        outcome: User | LoginFailure = LoginFailure.BAD_PASSWORD
        try:
            outcome = await self.users.authenticate(request.user, request.password)
        finally:
            self.guard.release(peer, request.user, ok=not isinstance(outcome, LoginFailure))
        if isinstance(outcome, LoginFailure):
            record("failed", outcome.value)
            message = "account disabled: ask an administrator" if outcome is LoginFailure.DISABLED else WRONG
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        issued = self.tokens.login(
            outcome.name, outcome.role, console[:MAX_CONSOLE_CHARS], outcome.credentials_version
        )
        record("ok", f"role {outcome.role.name}, session {issued.entry.session.id}, token {issued.entry.id}")
        return _login_response(issued)

    async def watch_credentials(self, every_s: float = 0.5) -> None:
        """Run for the backend's life: a password reset by another process (`vigie-backend
        --add-user` on the same data directory) revokes the sessions opened with the old password
        within `every_s` (their streams end; their tokens are refused)."""
        while True:
            try:
                versions = await self.users.credentials_versions_if_changed()
                if versions is not None:
                    revoked = self.tokens.set_credentials_versions(versions)
                    if revoked:
                        log.warning("%d session(s) revoked: their user's password changed", revoked)
            except Exception:  # a locked or busy database: try again at the next tick
                log.exception("cannot read the users' credentials versions")
            await asyncio.sleep(every_s)

    async def _token_id(self, context: grpc.aio.ServicerContext) -> str:
        token_id = principal.current().token_id
        if not token_id:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "this call carries no token")
        return token_id

    async def Refresh(
        self, request: auth_pb2.RefreshRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.LoginResponse:
        token_id = await self._token_id(context)
        entry = self.tokens.entry(token_id)
        if entry is not None:
            # The account may have changed since the login (another process, `--add-user`): a
            # session lives on only with the same, enabled role and the same password.
            user = await self.users.get(entry.session.user)
            if (
                user is None
                or user.disabled
                or user.role != entry.session.role
                or user.credentials_version != entry.session.credentials_version
            ):
                self.tokens.revoke_session(entry.session.id)
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED, "token revoked: the account changed, log in again"
                )
        try:
            return _login_response(self.tokens.refresh(token_id))
        except TokenRejected as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            raise  # unreachable: abort raises

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.LogoutResponse:
        token_id = await self._token_id(context)
        entry = self.tokens.entry(token_id)
        revoked = self.tokens.revoke_session(entry.session.id) if entry else 0
        who = principal.current()
        session = entry.session.id if entry else "?"
        detail = f"session {session}, {revoked} token(s) revoked"
        self.audit.record(AuditEntry(who.user, who.console, "logout", who.user, "", "ok", detail))
        return auth_pb2.LogoutResponse()

    async def WhoAmI(
        self, request: auth_pb2.WhoAmIRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.WhoAmIResponse:
        who = principal.current()
        resp = auth_pb2.WhoAmIResponse(user=who.user, role=int(who.role), console=who.console)  # type: ignore[arg-type]
        entry = self.tokens.entry(who.token_id) if who.token_id else None
        if entry is not None:
            resp.expires_at.CopyFrom(_ts(entry.expires_at))
        return resp

    # --- users (ADMIN) --------------------------------------------------------------------------

    async def ListUsers(
        self, request: auth_pb2.ListUsersRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListUsersResponse:
        return auth_pb2.ListUsersResponse(users=[user_to_pb(u) for u in await self.users.list()])

    async def CreateUser(
        self, request: auth_pb2.CreateUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.User:
        async def work() -> auth_pb2.User:
            problem = check_name(request.name) or check_password(request.password)
            if problem is None and request.role not in ROLE_VALUES:
                problem = "role must be VIEWER, OPERATOR, SUPERVISOR or ADMIN"
            if problem:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            try:
                return user_to_pb(await self.users.create(request.name, request.password, Role(request.role)))
            except UserExists:
                await context.abort(grpc.StatusCode.ALREADY_EXISTS, f"user {request.name} already exists")
                raise

        return await audited(
            self.audit,
            context,
            "user.create",
            request.name[:MAX_NAME_CHARS],
            "",
            work,
            lambda u: f"role {auth_pb2.Role.Name(u.role)}",
        )

    async def UpdateUser(
        self, request: auth_pb2.UpdateUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.User:
        revoked = 0
        changes: list[str] = []

        async def work() -> auth_pb2.User:
            nonlocal revoked
            if check_name(request.name):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, check_name(request.name) or "")
            if request.role != 0 and request.role not in ROLE_VALUES:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "role must be ROLE_UNSPECIFIED (unchanged), VIEWER, OPERATOR, SUPERVISOR or ADMIN",
                )
            role = Role(request.role) if request.role else None
            try:
                before, after = await self.users.update(
                    request.name, role, request.disabled if request.HasField("disabled") else None
                )
            except UnknownUser:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"no user {request.name}")
                raise
            except LastAdmin:
                await context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"{request.name} is the last enabled ADMIN: nobody could manage users any more",
                )
                raise
            if before.role != after.role:
                changes.append(f"role {before.role.name} -> {after.role.name}")
            if before.disabled != after.disabled:
                changes.append("disabled" if after.disabled else "enabled")
            if before.role != after.role or after.disabled:
                revoked = self.tokens.revoke_user(request.name)
            return user_to_pb(after)

        return await audited(
            self.audit,
            context,
            "user.update",
            request.name[:MAX_NAME_CHARS],
            "",
            work,
            lambda u: f"{', '.join(changes) or 'no change'}; {revoked} token(s) revoked",
        )

    async def RevokeUser(
        self, request: auth_pb2.RevokeUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RevokeUserResponse:
        async def work() -> auth_pb2.RevokeUserResponse:
            if check_name(request.name):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, check_name(request.name) or "")
            if await self.users.get(request.name) is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"no user {request.name}")
            return auth_pb2.RevokeUserResponse(tokens_revoked=self.tokens.revoke_user(request.name))

        return await audited(
            self.audit,
            context,
            "user.revoke",
            request.name[:MAX_NAME_CHARS],
            "",
            work,
            lambda r: f"{r.tokens_revoked} token(s) revoked",
        )
