"""Access decisions at a closed building, with the real simulated city, access control and
modes.sqlite3: an exempt badge is let in inside its window and refused outside it, an ordinary
badge is refused "not permitted at this time", and every decision is in the journal."""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
import time

from vigie.backend.access_control import AccessControl
from vigie.backend.adapters.simulator import CitySimulator
from vigie.backend.domain.access import AccessRule
from vigie.backend.domain.alarms import AlarmEngine, AlarmState
from vigie.backend.domain.assets import Kind, Status
from vigie.backend.domain.audit import MemoryAuditSink
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.security.principal import Principal, Role
from vigie.backend.store.modes_sqlite import ModesStore

SUPERVISOR = Principal("sup", Role.SUPERVISOR, "desk-1")


def test_exempt_inside_window_refused_outside_ordinary_refused_all_logged():
    data = tempfile.mkdtemp(prefix="vigie-access-")

    async def run():
        store = AssetStore()
        sim = CitySimulator(seed=3, lights=0, vehicles=0, events=False, badge_rate=0, command_failure_rate=0)
        sim.begin(store, time.time())
        alarms = AlarmEngine()
        audit = MemoryAuditSink()
        db = ModesStore(data)
        ac = AccessControl(store, alarms, audit, db, sim.cardholders(), lambda _door: "run-x")
        ac.load()
        await ac.start()
        door = next(
            a
            for a in store.assets()
            if a.kind is Kind.ACCESS_POINT
            and a.status is Status.OK
            and a.attributes["building_type"] == "École maternelle"
        )
        # Closed, as the Health emergency's ACCESS_LOCK leaves it (the device reports it).
        sim.update_device(door.id, attributes=dict(door.attributes, lock="locked"))
        carer = next(p for p in sim.cardholders() if p.group == "carers")
        teacher = next(p for p in sim.cardholders() if p.group == "teachers")
        now = time.time()
        rule = await ac.set_rule(
            AccessRule(
                "", "", "carers", (door.attributes["building"],), (), now - 60, now + 3600, "home visits"
            ),
            "health emergency",
            SUPERVISOR,
        )
        inside = ac.on_badge(door.id, carer.badge_ids[0], now)
        outside = ac.on_badge(door.id, carer.badge_ids[0], now + 7200)
        ordinary = ac.on_badge(door.id, teacher.badge_ids[0], now)
        no_alarm_yet = alarms.open_for(f"{door.id}:access_refused")
        ac.on_badge(door.id, teacher.badge_ids[0], now + 1)  # a third refusal within the minute
        await ac.flush()
        journal = await ac.journal(door.id, "", False, None, 10)
        refused_alarm = alarms.open_for(f"{door.id}:access_refused")
        await ac.stop()
        await db.close()
        return (
            door,
            rule,
            inside,
            outside,
            ordinary,
            journal,
            refused_alarm,
            audit.entries,
            carer,
            teacher,
            no_alarm_yet,
        )

    door, rule, inside, outside, ordinary, journal, alarm, entries, carer, teacher, early = asyncio.run(run())
    assert inside.granted and inside.exception_id == rule.exception_id
    assert inside.reason.startswith("exempt: group carers (home visits) until ")
    assert not outside.granted and outside.reason == "not permitted at this time"
    assert not ordinary.granted and ordinary.reason == "not permitted at this time"
    assert (inside.person_id, ordinary.person_id) == (carer.person_id, teacher.person_id)
    # Each decision is logged, newest first, with the door, the person and the mode run.
    assert [(e.badge_id, e.granted, e.reason) for e in journal] == [
        (teacher.badge_ids[0], False, "not permitted at this time"),
        (teacher.badge_ids[0], False, "not permitted at this time"),
        (carer.badge_ids[0], False, "not permitted at this time"),
        (carer.badge_ids[0], True, inside.reason),
    ]
    assert {e.asset_id for e in journal} == {door.id} and {e.run_id for e in journal} == {"run-x"}
    # Two refusals are only logged; the third within a minute raises the door's alarm.
    assert early is None
    assert alarm is not None and alarm.cause == "access_refused" and alarm.state == AlarmState.UNACK_ACTIVE
    assert [(e.action, e.result, e.reason) for e in entries] == [
        ("access.exception_set", "ok", "health emergency")
    ]
    assert stat.S_IMODE(os.stat(os.path.join(data, "modes.sqlite3")).st_mode) == 0o600


def test_unlocked_door_lets_a_known_badge_in_and_unknown_badges_are_refused():
    async def run():
        store = AssetStore()
        sim = CitySimulator(seed=3, lights=0, vehicles=0, events=False, badge_rate=0, command_failure_rate=0)
        sim.begin(store, time.time())
        db = ModesStore(None)
        ac = AccessControl(store, AlarmEngine(), MemoryAuditSink(), db, sim.cardholders(), lambda _d: "")
        ac.load()
        door = next(a for a in store.assets() if a.kind is Kind.ACCESS_POINT)
        sim.update_device(door.id, attributes=dict(door.attributes, lock="unlocked"))
        person = sim.cardholders()[0]
        ok = ac.on_badge(door.id, person.badge_ids[0], time.time())
        unknown = ac.on_badge(door.id, "B-99999", time.time())
        await db.close()
        return ok, unknown

    ok, unknown = asyncio.run(run())
    assert ok.granted and ok.reason == "badge accepted"
    assert not unknown.granted and unknown.reason == "unknown badge"
