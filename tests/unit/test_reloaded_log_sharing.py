"""A reloaded change log shares what the versions of one alarm or incident have in common, as the
live log does (backend/store/sharing.py): a restarted backend holds up to `--alarm-history` of them."""

from __future__ import annotations

import asyncio
import dataclasses

from vigie.backend.domain.assets import Asset, Kind
from vigie.backend.domain.incidents import Entry, EntryKind, Incident, IncidentStatus, Step, UnitRoute
from vigie.backend.store.alarms_sqlite import AlarmPersister
from vigie.backend.store.incidents_sqlite import incident_from_json, incident_to_json
from vigie.backend.store.sharing import ValuePool

NAME = "Capteur réseau d'eau M-105 #99"


def test_the_reloaded_versions_of_one_alarm_share_its_strings_and_times(tmp_path):
    sensor = Asset("wat-099", Kind.WATER_SENSOR, NAME, "Grésilles", 47.33, 5.07)

    async def run() -> list:
        store = AlarmPersister(str(tmp_path), history=100)
        engine = store.open_engine()
        store.start()
        engine.raise_alarm("wat-099:pressure_low", sensor, "pressure_low", 2, "Water pressure low", 10.5)
        engine.clear("wat-099:pressure_low", 12.5)
        engine.acknowledge([engine.changes_after(0)[0].id], "alice", "seen", 13.5)
        await store.flush()
        await store.close()
        reopened = AlarmPersister(str(tmp_path), history=100)
        versions = reopened.open_engine().changes_after(0)
        await reopened.close()
        return versions

    first, cleared, acked = asyncio.run(run())
    assert (first.asset_name, cleared.asset_name, acked.acknowledged_by) == (NAME, NAME, "alice")
    assert cleared.asset_name is first.asset_name and acked.message is first.message
    assert acked.lat is first.lat and acked.raised_at is first.raised_at == 10.5
    assert acked.cleared_at is cleared.cleared_at == 12.5
    assert acked.camera_ids is first.camera_ids


def test_the_reloaded_versions_of_one_incident_share_entries_steps_and_routes():
    route = UnitRoute("unit-3", "PM 3", ((47.3, 5.0), (47.31, 5.01)), 1400.0, 100.0)
    step = Step("s1", "Close the street", True)
    created = Entry(1.5, "alice", EntryKind.CREATED, "fire")
    v1 = Incident(
        "inc-1",
        "fire",
        1,
        47.3,
        5.0,
        street="Rue de la Liberté",
        steps=(step,),
        timeline=(created,),
        routes=(route,),
        unit_ids=("unit-3",),
        created_at=1.5,
    )
    v2 = dataclasses.replace(
        v1,
        status=IncidentStatus.DISPATCHED,
        sequence=2,
        timeline=(created, Entry(2.5, "alice", EntryKind.NOTE, "smoke")),
    )
    pool = ValuePool()
    r1, r2 = (incident_from_json(incident_to_json(v), pool) for v in (v1, v2))
    assert (r1, r2) == (v1, v2)
    assert r2.timeline[0] is r1.timeline[0] and r2.steps[0] is r1.steps[0]
    assert r2.routes[0] is r1.routes[0] and r2.street is r1.street and r2.unit_ids is r1.unit_ids


def test_the_pool_leaves_zeros_and_numbers_of_other_types_alone():
    pool = ValuePool()
    pool.fields({"a": 0.0, "b": 1.0, "c": "x"})
    d = pool.fields({"a": -0.0, "b": 1, "c": True})
    assert str(d["a"]) == "-0.0" and type(d["b"]) is int and d["c"] is True
