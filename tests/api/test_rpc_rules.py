"""Deny by default: every RPC has a rule, and every role (and no token) gets exactly what the rules
say, on a real backend. Calls use empty requests: an allowed call may still fail with
INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED (a service not built yet)... but never with
PERMISSION_DENIED or UNAUTHENTICATED, and a refused one always does."""

from __future__ import annotations

import importlib
import pkgutil

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

import vigie.v1
from tests.conftest import bearer_channel, login, open_channel
from tests.fixtures import reflection_v1
from vigie.backend.security.principal import Role
from vigie.backend.security.rules import PUBLIC, RULES

DENIALS = {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED}


def all_methods() -> dict[str, tuple[bool, bool]]:
    """Every method of every vigie.v1 service, health and reflection: path -> (client streams,
    server streams)."""
    modules = [
        importlib.import_module(f"vigie.v1.{m.name}")
        for m in pkgutil.iter_modules(vigie.v1.__path__)
        if m.name.endswith("_pb2")
    ]
    out = {}
    for module in (*modules, health_pb2, reflection_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                out[f"/{service.full_name}/{m.name}"] = (m.client_streaming, m.server_streaming)
    for m in reflection_v1.SERVICE_DESCRIPTOR.methods:  # grpcio-reflection has no v1 module
        out[f"/{reflection_v1.SERVICE}/{m.name}"] = (m.client_streaming, m.server_streaming)
    return out


METHODS = all_methods()


def test_every_rpc_has_a_rule_and_every_rule_an_rpc():
    assert len(METHODS) > 30
    missing = sorted(set(METHODS) - set(RULES))
    assert not missing, f"RPCs without a rule (they are denied to everyone): {missing}"
    stale = sorted(set(RULES) - set(METHODS))
    assert not stale, f"rules for RPCs that do not exist: {stale}"


def call(channel: grpc.Channel, path: str) -> grpc.StatusCode:
    """Call `path` with an empty request; OK, or the status it ended with. For streams, the first
    message (or status) within a short deadline: DEADLINE_EXCEEDED means it was let in."""
    client_streams, server_streams = METHODS[path]
    try:
        if client_streams:
            stream = channel.stream_stream(path)(iter([b""]), timeout=3)
            next(iter(stream), None)
            stream.cancel()
        elif server_streams:
            stream = channel.unary_stream(path)(b"", timeout=3)
            next(iter(stream), None)
            stream.cancel()
        else:
            channel.unary_unary(path)(b"", timeout=10)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("user", [None, "viewer", "operator", "supervisor", "admin"])
def test_each_role_is_refused_exactly_where_the_rules_say(backend, user):
    role = Role[user.upper()] if user else None
    wrong = []
    with open_channel(backend.address, user=user) as ch:
        for path in sorted(METHODS):
            if path == "/vigie.v1.AuthService/Logout" and user:
                # Logging out would revoke the token the other calls use: use a token of its own.
                with bearer_channel(backend.address, login(backend.address, user).token) as own:
                    code = call(own, path)
            else:
                code = call(ch, path)
            expected_denied = not allowed_by_spec(path, user)
            if expected_denied != (code in DENIALS):
                wrong.append(f"{path}: {code.name} (rule {getattr(RULES[path], 'name', RULES[path])})")
            if expected_denied:
                want = grpc.StatusCode.UNAUTHENTICATED if role is None else grpc.StatusCode.PERMISSION_DENIED
                if code != want:
                    wrong.append(f"{path}: {code.name}, expected {want.name}")
    assert not wrong, f"as {user or 'no token'}:\n" + "\n".join(wrong)


def test_refusals_say_why(backend):
    with open_channel(backend.address, user="operator") as ch:
        with pytest.raises(grpc.RpcError) as err:
            ch.unary_unary("/vigie.v1.AuditService/ListAudit")(b"", timeout=5)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert err.value.details() == "needs role SUPERVISOR, you are OPERATOR"
        # A method nobody wrote a rule for is refused, even to an admin.
    with open_channel(backend.address, user="admin") as ch:
        with pytest.raises(grpc.RpcError) as err:
            ch.unary_unary("/vigie.v1.AssetService/DropEverything")(b"", timeout=5)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "no rule for /vigie.v1.AssetService/DropEverything" in err.value.details()
    path = "/vigie.v1.AssetService/ListAssets"
    with open_channel(backend.address, user=None) as ch:
        for metadata, needle in [
            ((), "missing authorization"),
            ((("authorization", "Basic b3BlcmF0b3I6b3BlcmF0b3I="),), "malformed authorization"),
            ((("authorization", "Bearer "),), "malformed authorization"),
            ((("authorization", "Bearer not-a-token"),), "unknown token"),
            ((("authorization", "Bearer " + "x" * 300),), "malformed token"),
        ]:
            with pytest.raises(grpc.RpcError) as err:
                ch.unary_unary(path)(b"", metadata=metadata, timeout=5)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, metadata
            assert needle in err.value.details(), (metadata, err.value.details())


# The policy as specified (docs/security.md), written out again so that a change to the
# backend's table is a deliberate change to this one too.
SPEC = {
    PUBLIC: "AuthService/Login Health/Check Health/List Health/Watch ServerReflection/ServerReflectionInfo",
    Role.VIEWER: "AssetService/ListAssets AssetService/GetAsset AssetService/WatchAssets"
    " AssetService/GetTelemetry AssetService/WatchTelemetry MapService/GetBasemap VideoService/ListCameras"
    " VideoService/StreamVideo VideoService/WatchVideo AlarmService/WatchAlarms AlarmService/ListAlarms CommandService/ListActions"
    " WallService/ListWalls WallService/WatchWalls WallService/AttachWall AuthService/Refresh"
    " AuthService/Logout AuthService/WhoAmI"
    " ModeService/ListModes ModeService/GetRun ModeService/ListRuns ModeService/WatchModes"
    " IncidentService/ListIncidentTypes IncidentService/ListIncidents IncidentService/WatchIncidents"
    " IncidentService/Recommend UnitService/ListUnits UnitService/WatchUnits UnitService/Route"
    " TransitService/ListLines TransitService/ListVehicles TransitService/GetTspConfig"
    " TransitService/WatchPriority TransitService/GetCorridorStats"
    " PlaybackService/ListSpans PlaybackService/Play PlaybackService/GetCityState"
    " RecordingService/GetRecordingSettings"
    " ViewService/ListViews",
    Role.OPERATOR: "VideoService/Ptz AlarmService/Acknowledge AlarmService/Shelve AlarmService/Unshelve"
    " CommandService/Execute CommandService/GetCommand CommandService/WatchCommand"
    " ModeService/Preview CardholderService/ListAccessEvents CardholderService/WatchAccessEvents"
    " IncidentService/CreateIncident IncidentService/UpdateIncident IncidentService/AddNote"
    " IncidentService/SetStep UnitService/SetUnitStatus TransitService/RequestPreemption"
    " PlaybackService/StartExport PlaybackService/WatchExport PlaybackService/DownloadExport"
    " ViewService/SaveView ViewService/DeleteView",
    Role.SUPERVISOR: "AuditService/ListAudit WallService/Push WallService/CreateWall WallService/DeleteWall"
    " ModeService/Activate ModeService/RetryFailed ModeService/ReturnToNormal"
    " CardholderService/ListCardholders CardholderService/ListExceptions CardholderService/SetException"
    " CardholderService/RemoveException"
    " IncidentService/Assign"
    " RecordingService/SetRecordingSettings RecordingService/SetRetention RecordingService/SetProtection",
    Role.ADMIN: "AuthService/ListUsers AuthService/CreateUser AuthService/UpdateUser AuthService/RevokeUser",
}


RANKS = {"VIEWER": 1, "OPERATOR": 2, "SUPERVISOR": 3, "ADMIN": 4}  # each role has the ones below


def allowed_by_spec(path: str, user: str | None) -> bool:
    """What SPEC (not the backend's own table or check) says of `user` calling `path`; a method
    SPEC does not name is denied to everyone."""
    name = path.split(".")[-1]
    rule = next((rule for rule, names in SPEC.items() if name in names.split()), None)
    if rule is None:
        return False
    if rule == PUBLIC:
        return True
    return user is not None and RANKS[user.upper()] >= RANKS[rule.name]


def test_rules_are_the_specified_policy():
    actual = {path.split(".")[-1]: rule for path, rule in RULES.items()}
    expected = {name: rule for rule, names in SPEC.items() for name in names.split()}
    assert actual == expected


def test_no_reflection_serves_no_reflection(make_backend):
    b = make_backend("--no-reflection", "--lights", "0", "--vehicles", "0").start()
    with open_channel(b.address, user=None) as ch:
        for path in (
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ):
            with pytest.raises(grpc.RpcError) as err:
                next(iter(ch.stream_stream(path)(iter([b""]), timeout=5)))
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED, path
        # Health stays public.
        assert call(ch, "/grpc.health.v1.Health/Check") == grpc.StatusCode.OK
