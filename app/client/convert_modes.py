"""vigie.v1 ModeService messages to the console's mode records and back (app/models/modes.py).

Kept beside convert.py, reusing its helpers, so the modes client's conversions stay in one file
of their own while other services grow convert.py."""

from __future__ import annotations

from vigie.app.client.convert import KIND_NAMES, seconds
from vigie.app.models import modes as m
from vigie.v1 import commands_pb2, modes_pb2

RUN_STATES = {v: k for k, v in modes_pb2.ModeRun.State.items() if v != 0}
REFUSALS = {v: k.lower() for k, v in modes_pb2.DeviceRefusal.Reason.items() if v != 0}
PHASES = {modes_pb2.DeviceResult.ACTIVATION: "activation", modes_pb2.DeviceResult.RETURN: "return"}
PHASE_NUMBERS = {"activation": modes_pb2.DeviceResult.ACTIVATION, "return": modes_pb2.DeviceResult.RETURN}


def _action(number: int) -> str:
    return commands_pb2.CommandAction.Name(number) if number else ""  # type: ignore[arg-type]


def _stage(number: int) -> str:
    return commands_pb2.CommandStage.Name(number) if number else ""  # type: ignore[arg-type]


def scope(s: modes_pb2.ModeScope) -> m.ModeScope:
    return m.ModeScope(s.whole_city, tuple(s.districts))


def scope_pb(s: m.ModeScope) -> modes_pb2.ModeScope:
    if s.whole_city:
        return modes_pb2.ModeScope(whole_city=True)
    return modes_pb2.ModeScope(districts=list(s.districts))


def mode(d: modes_pb2.ModeDefinition) -> m.ModeInfo:
    steps = tuple(
        m.ModeStepInfo(st.name, st.label or st.name, _action(st.action), st.selection.text) for st in d.steps
    )
    return m.ModeInfo(d.id, d.name, d.description, d.color or m.DEFAULT_COLOR, steps, d.source or "provided")


def run(r: modes_pb2.ModeRun) -> m.ModeRun:
    return m.ModeRun(
        r.run_id,
        r.mode_id,
        r.mode_name,
        r.color or m.DEFAULT_COLOR,
        scope(r.scope),
        RUN_STATES.get(r.state, "ACTIVATING"),
        r.activated_by,
        r.console,
        r.reason,
        seconds(r.activated_at),
        r.returned_by,
        r.return_reason,
        seconds(r.returned_at),
        r.total,
        r.confirmed,
        r.failed,
        r.pending,
        r.refused,
        r.hand_changed,
        r.sequence,
    )


def preview(p: modes_pb2.PreviewResponse) -> m.ModePreview:
    return m.ModePreview(
        mode(p.mode),
        scope(p.scope),
        tuple(
            m.KindCount(KIND_NAMES.get(c.kind, "unknown"), c.changes, c.unchanged, c.refusals, c.conflicts)
            for c in p.counts
        ),
        tuple(
            m.DeviceChange(
                c.asset_id,
                c.asset_name,
                KIND_NAMES.get(c.kind, "unknown"),
                c.district,
                c.step,
                _action(c.action),
                c.current_state,
                c.target_state,
            )
            for c in p.changes
        ),
        p.total_changes,
        tuple(
            m.DeviceRefusal(
                r.asset_id,
                r.asset_name,
                KIND_NAMES.get(r.kind, "unknown"),
                r.step,
                REFUSALS.get(r.reason, "refused"),
                r.detail,
            )
            for r in p.refusals
        ),
        tuple(
            m.ModeConflict(c.asset_id, c.asset_name, c.step, c.run_id, c.mode_name, c.detail)
            for c in p.conflicts
        ),
        tuple(p.wall_camera_ids),
    )


def result(r: modes_pb2.DeviceResult) -> m.DeviceResult:
    return m.DeviceResult(
        r.asset_id,
        r.asset_name,
        KIND_NAMES.get(r.kind, "unknown"),
        r.step,
        PHASES.get(r.phase, ""),
        _stage(r.stage),
        r.detail,
        r.previous_state,
        r.target_state,
        r.refused,
        r.hand_changed,
        r.left_as_is,
        r.attempts,
    )
