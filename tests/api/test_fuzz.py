"""Fuzzing every unary RPC on a real backend, as an admin (so every rule lets the call in):
request messages with random field values built from the descriptors, and random bytes. The
backend answers every one promptly with a deliberate status: OK or a refusal with a reason. An
unhandled error (UNKNOWN, INTERNAL), a call left hanging (DEADLINE_EXCEEDED) or a dropped
connection (UNAVAILABLE) fails the test, and the backend must stay healthy.
Bounded: 40 examples per RPC, no per-example deadline (each call has a generous 30 s one)."""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vigie.v1
from tests.conftest import BackendProcess, open_channel

F = FieldDescriptor
MAX_DEPTH = 3
# The answers a backend gives on purpose. Anything else (UNKNOWN, INTERNAL, DEADLINE_EXCEEDED,
# UNAVAILABLE, CANCELLED, DATA_LOSS...) means a request broke or stalled it.
DELIBERATE = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNIMPLEMENTED,
}


def unary_methods() -> dict[str, Descriptor]:
    """Every unary RPC of every vigie.v1 service (and health): path -> request descriptor."""
    modules = [
        importlib.import_module(f"vigie.v1.{m.name}")
        for m in pkgutil.iter_modules(vigie.v1.__path__)
        if m.name.endswith("_pb2")
    ]
    out = {}
    for module in (*modules, health_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                if not m.client_streaming and not m.server_streaming:
                    out[f"/{service.full_name}/{m.name}"] = m.input_type
    return out


UNARY = unary_methods()

_INTS = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1),
    F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
}


def value_of(field: FieldDescriptor, depth: int) -> st.SearchStrategy:
    t = field.type
    if t in _INTS:
        lo, hi = _INTS[t]
        return st.integers(lo, hi)
    if t == F.TYPE_DOUBLE:
        return st.floats()
    if t == F.TYPE_FLOAT:
        return st.floats(width=32)
    if t == F.TYPE_BOOL:
        return st.booleans()
    if t == F.TYPE_STRING:
        return st.text(max_size=80)
    if t == F.TYPE_BYTES:
        return st.binary(max_size=80)
    if t == F.TYPE_ENUM:  # known values, and (proto3 enums are open) any other number
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-(2**31), 2**31 - 1))
    return message_of(field.message_type, depth + 1)


@st.composite
def _build(draw, desc: Descriptor, depth: int) -> Message:
    msg = GetMessageClass(desc)()
    for field in desc.fields:
        if not draw(st.booleans()):
            continue
        target = getattr(msg, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_f, value_f = (
                field.message_type.fields_by_name["key"],
                field.message_type.fields_by_name["value"],
            )
            entries = draw(st.dictionaries(value_of(key_f, depth), value_of(value_f, depth), max_size=3))
            for k, v in entries.items():
                if value_f.type == F.TYPE_MESSAGE:
                    target[k].CopyFrom(v)
                else:
                    target[k] = v
        elif field.is_repeated:
            values = draw(st.lists(value_of(field, depth), max_size=5))
            if field.type == F.TYPE_MESSAGE:
                for v in values:
                    target.add().CopyFrom(v)
            else:
                target.extend(values)
        elif field.type == F.TYPE_MESSAGE:
            target.CopyFrom(draw(value_of(field, depth)))
        else:
            setattr(msg, field.name, draw(value_of(field, depth)))
    return msg


def message_of(desc: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    if depth > MAX_DEPTH:
        return st.just(GetMessageClass(desc)())
    return _build(desc, depth)


def request_bytes(desc: Descriptor) -> st.SearchStrategy[bytes]:
    return st.one_of(message_of(desc).map(lambda m: m.SerializeToString()), st.binary(max_size=200))


class Admin:
    """An admin's channel that logs in again when a fuzzed call revoked its own token (Logout,
    RevokeUser "admin"...)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.channel = open_channel(address, user="admin")

    def call(self, path: str, raw: bytes) -> tuple[grpc.StatusCode, str]:
        for attempt in (1, 2):
            try:
                self.channel.unary_unary(path)(raw, timeout=30)
                return grpc.StatusCode.OK, ""
            except grpc.RpcError as exc:
                revoked = exc.code() == grpc.StatusCode.UNAUTHENTICATED and not path.endswith("/Login")
                if revoked and attempt == 1:
                    self.relogin()
                    continue
                return exc.code(), exc.details() or ""
        raise AssertionError("unreachable")

    def relogin(self, within: float = 120.0) -> None:
        """Log in again, obeying the login throttle: fuzzed Logins with wrong passwords come from this
        same address, so the backend may answer "try again in N s" (backend/security/login_guard.py)."""
        deadline = time.monotonic() + within
        while True:
            try:
                fresh = open_channel(self.address, user="admin")
                break
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or time.monotonic() > deadline:
                    raise
                m = re.search(r"try again in (\d+) s", exc.details() or "")
                time.sleep(int(m.group(1)) if m else 0.5)  # the wait the backend announced
        self.channel.close()
        self.channel = fresh


@pytest.fixture(scope="module")
def admin() -> Iterator[Admin]:
    b = BackendProcess("--lights", "0", "--vehicles", "0", "--alarm-rate", "2").start()
    client = Admin(b.address)
    yield client
    client.channel.close()
    b.stop()


def test_every_service_is_fuzzed():
    services = {path.split("/")[1] for path in UNARY}
    assert {"vigie.v1.AssetService", "vigie.v1.AlarmService", "vigie.v1.AuthService"} <= services
    assert {"vigie.v1.AuditService", "vigie.v1.CommandService", "vigie.v1.VideoService"} <= services


@pytest.mark.parametrize("path", sorted(UNARY))
def test_fuzzed_requests_never_break_the_backend(admin, path):
    seen: set[str] = set()

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(request_bytes(UNARY[path]))
    def one(raw: bytes) -> None:
        code, details = admin.call(path, raw)
        seen.add(code.name)
        assert code in DELIBERATE, f"{path} answered {code.name} {details!r} to {raw!r}"

    one()
    health = health_pb2_grpc.HealthStub(admin.channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING, seen
