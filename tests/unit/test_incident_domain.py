"""The incident lifecycle, checklist, timeline and timers; unit transitions; the SQLite store's
epoch across a clean and an unclean close. Expected tables are written out here (the policy as
docs/dispatch.md states it), not read from the product."""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile

import pytest

from vigie.backend.domain.assets import Asset, Kind
from vigie.backend.domain.incidents import (
    EntryKind,
    IncidentBook,
    IncidentRefused,
    IncidentStatus,
    InvalidIncident,
    timer_levels,
)
from vigie.backend.domain.units import Capability, TransitionRefused, UnitBoard, UnitStatus, unit_from_vehicle
from vigie.backend.store.incidents_sqlite import SqliteIncidentStore

S = IncidentStatus
U = UnitStatus

# What a user may ask, written out from docs/dispatch.md.
INCIDENT_MOVES = {
    S.NEW: {S.ON_HOLD, S.RESOLVED},
    S.DISPATCHED: {S.IN_PROGRESS, S.ON_HOLD, S.RESOLVED},
    S.IN_PROGRESS: {S.ON_HOLD, S.RESOLVED},
    S.ON_HOLD: {S.NEW, S.DISPATCHED, S.IN_PROGRESS, S.RESOLVED},
    S.RESOLVED: {S.CLOSED, S.IN_PROGRESS},
    S.CLOSED: set(),
}
UNIT_MOVES = {
    U.AVAILABLE: {U.OFF_DUTY, U.OUT_OF_SERVICE},
    U.DISPATCHED: {U.EN_ROUTE, U.AVAILABLE},
    U.EN_ROUTE: {U.ON_SCENE, U.AVAILABLE},
    U.ON_SCENE: {U.RETURNING, U.AVAILABLE},
    U.RETURNING: {U.AVAILABLE, U.OFF_DUTY, U.OUT_OF_SERVICE},
    U.OFF_DUTY: {U.AVAILABLE, U.OUT_OF_SERVICE},
    U.OUT_OF_SERVICE: {U.AVAILABLE, U.OFF_DUTY},
}


def book_with(status: IncidentStatus, type_code: str = "road_accident") -> tuple[IncidentBook, str]:
    """A book with one incident brought to `status` by the system's own moves."""
    book = IncidentBook()
    inc = book.create(type_code, 0, 47.32, 5.04, "op", 1000.0)
    steps_done = [s.id for s in inc.steps]
    path = {
        S.NEW: [],
        S.DISPATCHED: ["assign"],
        S.IN_PROGRESS: ["assign", "arrive"],
        S.ON_HOLD: [S.ON_HOLD],
        S.RESOLVED: ["ticks", S.RESOLVED],
        S.CLOSED: ["ticks", S.RESOLVED, S.CLOSED],
    }[status]
    for step in path:
        if step == "assign":
            book.unit_assigned(inc.id, "veh-pol-01", "Police 01", "sup", 1001.0, "")
        elif step == "arrive":
            book.unit_status(inc.id, "veh-pol-01", "Police 01", U.ON_SCENE, "sim", 1002.0)
        elif step == "ticks":
            for sid in steps_done:
                book.set_step(inc.id, sid, True, "op", 1001.0)
        else:
            book.set_status(inc.id, step, "sup", 1003.0, reason="r", outcome="o")
    assert book.require(inc.id).status is status
    return book, inc.id


@pytest.mark.parametrize("start", list(S))
@pytest.mark.parametrize("target", list(S))
def test_incident_transitions_follow_the_lifecycle(start, target):
    if start is target:
        return
    book, iid = book_with(start)
    for s in book.require(iid).steps:
        if start is not S.CLOSED:
            book.set_step(iid, s.id, True, "op", 1004.0)
    if target in INCIDENT_MOVES[start]:
        out = book.set_status(iid, target, "sup", 1005.0, reason="because", outcome="done")
        assert out.status is target
        assert out.timeline[-1].kind is EntryKind.STATUS and out.timeline[-1].user == "sup"
    else:
        before = book.require(iid)
        with pytest.raises(IncidentRefused):
            book.set_status(iid, target, "sup", 1005.0, reason="because", outcome="done")
        assert book.require(iid) == before  # nothing changed


def test_hold_needs_a_reason_and_resolve_an_outcome():
    book, iid = book_with(S.DISPATCHED)
    with pytest.raises(InvalidIncident, match="ON_HOLD needs a reason"):
        book.set_status(iid, S.ON_HOLD, "op", 1010.0, reason="  ")
    held = book.set_status(iid, S.ON_HOLD, "op", 1010.0, reason="waiting for the owner")
    assert held.hold_reason == "waiting for the owner"
    for s in held.steps:
        book.set_step(iid, s.id, True, "op", 1011.0)
    with pytest.raises(InvalidIncident, match="outcome"):
        book.set_status(iid, S.RESOLVED, "op", 1012.0)


def test_required_steps_block_resolution_unless_overridden_with_a_reason():
    book, iid = book_with(S.IN_PROGRESS)
    inc = book.require(iid)
    required = [s.id for s in inc.steps if s.required]
    assert required  # road accidents have a procedure
    book.set_step(iid, required[0], True, "op", 1010.0)
    with pytest.raises(IncidentRefused, match="required steps open"):
        book.set_status(iid, S.RESOLVED, "op", 1011.0, outcome="cleared")
    with pytest.raises(InvalidIncident, match="override needs a reason"):
        book.set_status(iid, S.RESOLVED, "sup", 1011.0, outcome="cleared", override=True)
    out = book.set_status(
        iid, S.RESOLVED, "sup", 1012.0, outcome="cleared", override=True, reason="towed away"
    )
    assert out.status is S.RESOLVED and out.resolved_at == 1012.0
    kinds = [(e.kind, e.user) for e in out.timeline[-2:]]
    assert (EntryKind.OVERRIDE, "sup") in kinds
    assert "towed away" in next(e.text for e in out.timeline if e.kind is EntryKind.OVERRIDE)


def test_timeline_records_who_what_when_in_order():
    book, iid = book_with(S.NEW)
    book.add_note(iid, "caller says two cars", "op", 1001.0)
    book.unit_assigned(iid, "veh-pol-02", "Police 02", "sup", 1002.0, "")
    book.unit_status(iid, "veh-pol-02", "Police 02", U.EN_ROUTE, "sim", 1003.0)
    book.unit_status(iid, "veh-pol-02", "Police 02", U.ON_SCENE, "sim", 1004.0)
    inc = book.require(iid)
    got = [(e.time, e.user, e.kind) for e in inc.timeline]
    assert got == [
        (1000.0, "op", EntryKind.CREATED),
        (1001.0, "op", EntryKind.NOTE),
        (1002.0, "sup", EntryKind.ASSIGNED),
        (1002.0, "sup", EntryKind.STATUS),
        (1003.0, "sim", EntryKind.UNIT_STATUS),
        (1004.0, "sim", EntryKind.UNIT_STATUS),
        (1004.0, "sim", EntryKind.STATUS),
    ]
    assert inc.status is S.IN_PROGRESS and inc.dispatched_at == 1002.0 and inc.on_scene_at == 1004.0
    assert inc.timeline[-2].unit_status == int(U.ON_SCENE)
    # Every change got the next sequence.
    assert [c.sequence for c in book.changes_after(0)] == list(range(1, book.sequence + 1))


def test_timers_turn_amber_then_red_per_priority():
    """A P1 not dispatched turns amber after 1 min and red after 2 min; a P4 waits far longer."""
    book = IncidentBook()
    p1 = book.create("road_accident", 1, 47.32, 5.04, "op", 0.0)
    p4 = book.create("road_accident", 4, 47.32, 5.04, "op", 0.0)
    assert timer_levels(p1, 59.0)[0] == "ok"
    assert timer_levels(p1, 61.0)[0] == "amber"
    assert timer_levels(p1, 121.0)[0] == "red"
    assert timer_levels(p4, 121.0)[0] == "ok"
    dispatched = book.unit_assigned(p1.id, "veh-pol-01", "Police 01", "sup", 100.0, "")
    assert timer_levels(dispatched, 10_000.0)[0] == "amber"  # it waited 100 s, and that stays
    assert timer_levels(dispatched, 31 * 60.0)[1] == "amber"  # open for more than 30 min
    assert timer_levels(dispatched, 61 * 60.0)[1] == "red"


def test_links_and_priority_updates_are_checked_and_recorded():
    book, iid = book_with(S.NEW)
    with pytest.raises(InvalidIncident, match="priority"):
        book.update(iid, "op", 1001.0, priority=7)
    out = book.update(iid, "op", 1002.0, priority=2, links={"camera_ids": (("cam-1", "cam-2"), ())})
    assert out.priority == 2 and out.camera_ids == ("cam-1", "cam-2")
    out = book.update(iid, "op", 1003.0, links={"camera_ids": ((), ("cam-1",))})
    assert out.camera_ids == ("cam-2",)
    assert [e.kind for e in out.timeline[-2:]] == [EntryKind.UPDATED, EntryKind.UPDATED]
    with pytest.raises(InvalidIncident):
        book.create("no_such_type", 0, 47.32, 5.04, "op", 1.0)


def vehicle(vid: str, fleet: str, callsign: str) -> Asset:
    return Asset(
        vid, Kind.VEHICLE, callsign, "", 47.32, 5.04, attributes={"fleet": fleet, "callsign": callsign}
    )


def test_units_have_capabilities_by_fleet_and_service():
    assert unit_from_vehicle(vehicle("veh-pol-01", "police", "Police 01")).capabilities == (
        Capability.POLICE,
    )
    light = unit_from_vehicle(vehicle("veh-tec-02", "technical", "Éclairage 01"))
    assert light.service == "Éclairage" and Capability.LIGHTING in light.capabilities
    water = unit_from_vehicle(vehicle("veh-tec-05", "technical", "Eau 01"))
    assert water.capabilities == (Capability.WATER,)
    cam = Asset("cam-1", Kind.CAMERA, "c", "", 0, 0)
    assert unit_from_vehicle(cam) is None


@pytest.mark.parametrize("start", list(U))
def test_unit_transitions_by_hand_follow_the_rules(start):
    board = UnitBoard()
    board.add_missing([unit_from_vehicle(vehicle("veh-pol-01", "police", "Police 01"))], 0.0)
    # Reach `start` through the system's moves.
    path = {
        U.AVAILABLE: [],
        U.DISPATCHED: [U.DISPATCHED],
        U.EN_ROUTE: [U.DISPATCHED, U.EN_ROUTE],
        U.ON_SCENE: [U.DISPATCHED, U.EN_ROUTE, U.ON_SCENE],
        U.RETURNING: [U.DISPATCHED, U.EN_ROUTE, U.ON_SCENE, U.RETURNING],
        U.OFF_DUTY: [U.OFF_DUTY],
        U.OUT_OF_SERVICE: [U.OUT_OF_SERVICE],
    }[start]
    for k, s in enumerate(path):
        board.set_status(
            "veh-pol-01", s, "sim", 1.0 + k, manual=False, incident_id="inc-1" if s is U.DISPATCHED else None
        )
    assert board.require("veh-pol-01").status is start
    for target in U:
        if target is start:
            continue
        b2 = UnitBoard()
        b2.restore([board.require("veh-pol-01")], [])
        if target in UNIT_MOVES[start]:
            u = b2.set_status("veh-pol-01", target, "op", 50.0)
            assert (u.status, u.status_since, u.updated_by) == (target, 50.0, "op")
        else:
            with pytest.raises(TransitionRefused):
                b2.set_status("veh-pol-01", target, "op", 50.0)
    # DISPATCHED is never set by hand.
    assert U.DISPATCHED not in UNIT_MOVES[start]


def test_store_keeps_epoch_and_sequences_on_a_clean_close_and_changes_the_epoch_after_a_crash():
    data = tempfile.mkdtemp(prefix="vigie-inc-")

    async def run(close: bool) -> tuple[str, int, int]:
        store = SqliteIncidentStore(data)
        loaded = store.load(1000, 2000.0)
        book = IncidentBook(1000, loaded.incident_seq, loaded.next_id, listener=store.queue_incidents)
        board = UnitBoard(1000, loaded.unit_seq, listener=store.queue_units)
        book.restore(loaded.live, loaded.incident_log)
        board.restore(loaded.units, loaded.unit_log)
        store.set_meta(loaded.epoch, loaded.next_id)
        store.start()
        inc = book.create("road_accident", 0, 47.32, 5.04, "op", 2000.0)
        book.add_note(inc.id, "n", "op", 2001.0)
        board.add_missing(
            [unit_from_vehicle(vehicle(f"veh-pol-{len(loaded.units) + 1:02d}", "police", "P"))], 2000.0
        )
        await store.flush()
        if close:
            await store.close()
        else:  # a crash: the process dies without closing (the lock goes with it)
            store._pool.shutdown(wait=True)
            os.close(store._lock_fd)
        return loaded.epoch, book.sequence, board.sequence

    epoch1, seq1, useq1 = asyncio.run(run(close=True))
    epoch2, seq2, useq2 = asyncio.run(run(close=False))
    assert epoch2 == epoch1 and seq2 == seq1 + 2 and useq2 == useq1 + 1  # kept, and continued
    epoch3, seq3, _ = asyncio.run(run(close=True))
    assert epoch3 != epoch2  # after the crash: a new epoch
    assert seq3 == seq2 + 2  # sequences still never reused
    path = os.path.join(data, "incidents.sqlite3")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
