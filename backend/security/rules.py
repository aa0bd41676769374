"""Who may call what: every RPC's full method name mapped to PUBLIC or the lowest role allowed.

Deny by default: a method that is not in RULES is refused (PERMISSION_DENIED "no rule for ..."),
so a new RPC stays closed until someone decides who may call it here. tests/api/test_rpc_rules.py
fails when a method of a vigie.v1 service has no rule. Names are spelled out (no wildcards) so
adding an RPC to a service never opens it silently."""

from __future__ import annotations

from typing import Final

from vigie.backend.security.principal import Role

PUBLIC: Final = "PUBLIC"

Rule = Role | str


def _service(service: str, rules: dict[str, Rule]) -> dict[str, Rule]:
    return {f"/{service}/{method}": rule for method, rule in rules.items()}


VIEW, OPER, SUP, ADMIN = Role.VIEWER, Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN

RULES: dict[str, Rule] = {
    **_service(
        "vigie.v1.AssetService",
        {
            "ListAssets": VIEW,
            "GetAsset": VIEW,
            "WatchAssets": VIEW,
            "GetTelemetry": VIEW,
            "WatchTelemetry": VIEW,
        },
    ),
    **_service("vigie.v1.MapService", {"GetBasemap": VIEW}),
    **_service(
        "vigie.v1.VideoService", {"ListCameras": VIEW, "StreamVideo": VIEW, "WatchVideo": VIEW, "Ptz": OPER}
    ),
    **_service(
        "vigie.v1.AlarmService",
        {"WatchAlarms": VIEW, "ListAlarms": VIEW, "Acknowledge": OPER, "Shelve": OPER, "Unshelve": OPER},
    ),
    # The command service itself also refuses critical actions below SUPERVISOR.
    **_service(
        "vigie.v1.CommandService",
        {"ListActions": VIEW, "Execute": OPER, "GetCommand": OPER, "WatchCommand": OPER},
    ),
    **_service(
        "vigie.v1.WallService",
        # AttachWall: the service also checks the wall's allowed displays, and that taking a wall
        # over from the display holding it needs SUPERVISOR.
        {
            "ListWalls": VIEW,
            "WatchWalls": VIEW,
            "AttachWall": VIEW,
            "Push": SUP,
            "CreateWall": SUP,
            "DeleteWall": SUP,
        },
    ),
    **_service("vigie.v1.AuditService", {"ListAudit": SUP}),
    # A user's own views; the service also refuses shared views below SUPERVISOR.
    **_service("vigie.v1.ViewService", {"ListViews": VIEW, "SaveView": OPER, "DeleteView": OPER}),
    # Incidents (docs/dispatch.md): viewers read, operators create, note and tick steps;
    # UpdateIncident is OPER but the service asks SUPERVISOR to close and to resolve with
    # required steps open (override); assigning (and overriding, reassigning) is SUPERVISOR.
    **_service(
        "vigie.v1.IncidentService",
        {
            "ListIncidentTypes": VIEW,
            "ListIncidents": VIEW,
            "WatchIncidents": VIEW,
            "Recommend": VIEW,
            "CreateIncident": OPER,
            "UpdateIncident": OPER,
            "AddNote": OPER,
            "SetStep": OPER,
            "Assign": SUP,
        },
    ),
    # A crew's radio call (status by hand) is taken by an operator.
    **_service(
        "vigie.v1.UnitService",
        {"ListUnits": VIEW, "WatchUnits": VIEW, "Route": VIEW, "SetUnitStatus": OPER},
    ),
    **_service(
        "vigie.v1.AuthService",
        {
            "Login": PUBLIC,
            "Refresh": VIEW,
            "Logout": VIEW,
            "WhoAmI": VIEW,
            "ListUsers": ADMIN,
            "CreateUser": ADMIN,
            "UpdateUser": ADMIN,
            "RevokeUser": ADMIN,
        },
    ),
    **_service(
        "vigie.v1.ModeService",
        # The mode service also refuses activation, retry and return below SUPERVISOR (critical).
        {
            "ListModes": VIEW,
            "GetRun": VIEW,
            "ListRuns": VIEW,
            "WatchModes": VIEW,
            "Preview": OPER,
            "Activate": SUP,
            "RetryFailed": SUP,
            "ReturnToNormal": SUP,
        },
    ),
    **_service(
        "vigie.v1.CardholderService",
        # The directory names people: supervisors manage it; operators see the decisions live.
        {
            "ListCardholders": SUP,
            "ListExceptions": SUP,
            "SetException": SUP,
            "RemoveException": SUP,
            "ListAccessEvents": OPER,
            "WatchAccessEvents": OPER,
        },
    ),
    **_service(
        "vigie.v1.TransitService",
        # Rules and regulation change through CommandService (TSP_CONFIGURE, TRAM_*): its rules apply.
        {
            "ListLines": VIEW,
            "ListVehicles": VIEW,
            "GetTspConfig": VIEW,
            "WatchPriority": VIEW,
            "GetCorridorStats": VIEW,
            "RequestPreemption": OPER,
        },
    ),
    # Recordings (docs/recording.md): viewers play back, operators export, supervisors change
    # what is recorded, retention and protection.
    **_service(
        "vigie.v1.PlaybackService",
        {
            "ListSpans": VIEW,
            "Play": VIEW,
            "GetCityState": VIEW,
            "StartExport": OPER,
            "WatchExport": OPER,
            "DownloadExport": OPER,
        },
    ),
    **_service(
        "vigie.v1.RecordingService",
        {
            "GetRecordingSettings": VIEW,
            "SetRecordingSettings": SUP,
            "SetRetention": SUP,
            "SetProtection": SUP,
        },
    ),
    **_service("grpc.health.v1.Health", {"Check": PUBLIC, "Watch": PUBLIC, "List": PUBLIC}),
    # Served only without --no-reflection (otherwise the service is not registered: UNIMPLEMENTED).
    # v1 and v1alpha (backend/observability/reflection.py): tools try v1 first and fall back only
    # on UNIMPLEMENTED, never on PERMISSION_DENIED.
    **_service("grpc.reflection.v1.ServerReflection", {"ServerReflectionInfo": PUBLIC}),
    **_service("grpc.reflection.v1alpha.ServerReflection", {"ServerReflectionInfo": PUBLIC}),
}

# Refusals of these methods are written to the audit trail: method -> audit action.
AUDITED_DENIALS: dict[str, str] = {
    "/vigie.v1.CommandService/Execute": "command.execute",
    "/vigie.v1.ModeService/Activate": "mode.activate",
    "/vigie.v1.ModeService/RetryFailed": "mode.retry",
    "/vigie.v1.ModeService/ReturnToNormal": "mode.return",
    "/vigie.v1.CardholderService/SetException": "access.exception_set",
    "/vigie.v1.CardholderService/RemoveException": "access.exception_remove",
    "/vigie.v1.PlaybackService/StartExport": "recording.export",
    "/vigie.v1.RecordingService/SetRecordingSettings": "recording.settings",
    "/vigie.v1.RecordingService/SetRetention": "recording.retention",
    "/vigie.v1.RecordingService/SetProtection": "recording.protection",
}


def rule_for(method: str) -> Rule | None:
    """PUBLIC, the lowest role allowed, or None (no rule: denied)."""
    return RULES.get(method)


def allows(rule: Rule | None, role: Role | None) -> bool:
    """Would a caller with `role` (None: no valid token) pass `rule`?"""
    if rule is None:
        return False
    if rule == PUBLIC:
        return True
    return role is not None and role >= rule
