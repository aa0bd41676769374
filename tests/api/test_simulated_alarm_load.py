"""The demo city keeps a believable alarm load across runs: tens of open alarms, not hundreds.

Earlier runs' returned-but-unacknowledged alarms are what piled up (a few simulated events a minute,
kept until acknowledged). The data dir here is left by a previous run with 400 of them, written by
the real alarm store; the real backend is then started on it several times."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.api.test_alarms_service import StreamChecker, stub_for, watch
from tests.conftest import BackendProcess
from vigie.backend.adapters.simulator import CitySimulator
from vigie.backend.domain.assets import Kind
from vigie.backend.store.alarms_sqlite import AlarmPersister
from vigie.v1 import alarms_pb2

A = alarms_pb2.Alarm.State
LEFT_BY_EARLIER_RUNS = 400
MAX_RETURNED_UNACKED = 20  # what an operator should find waiting: tens, not hundreds
MAX_OPEN = 99
RUNS = 3


async def leave_returned_alarms(data_dir: str, n: int) -> None:
    """What a few long demo runs leave: n simulated door-forced events, returned, never acknowledged."""
    doors = [a for a in CitySimulator(seed=7).city.assets if a.kind is Kind.ACCESS_POINT]
    store = AlarmPersister(data_dir, history=10_000)
    engine = store.open_engine()
    store.start()
    now = time.time()
    for i in range(n):  # one returned every 5 s up to now: the newest 180 in the last 15 minutes
        door = doors[i % len(doors)]
        key = f"{door.id}:door_forced:{i}:event"  # a distinct event each (event keys end in :event)
        cleared = now - 5 * (n - i)
        engine.raise_alarm(key, door, "door_forced", 1, "Door forced", cleared - 60)
        engine.clear(key, cleared)
    await store.close()


def open_alarms(address: str) -> list[alarms_pb2.Alarm]:
    stream = watch(stub_for(address), timeout=30)
    checker = StreamChecker()
    checker.read_snapshot(stream)
    stream.cancel()
    return list(checker.alarms.values())


def test_open_alarms_stay_tens_across_runs_on_one_data_dir(tmp_path: Path) -> None:
    data = str(tmp_path / "city")
    asyncio.run(leave_returned_alarms(data, LEFT_BY_EARLIER_RUNS))
    seen = []
    for _ in range(RUNS):
        b = BackendProcess("--seed", "7", "--data-dir", data).start()
        try:
            alarms = open_alarms(b.address)
        finally:
            b.stop()
        returned = [a for a in alarms if a.state == A.RTN_UNACK]
        seen.append((len(alarms), len(returned)))
        assert len(returned) <= MAX_RETURNED_UNACKED, seen
        assert len(alarms) <= MAX_OPEN, seen
    print(f"open alarms, returned unacknowledged per run: {seen}")
    # The ones acknowledged on the operators' behalf say who did it, and stay in the journal.
    b = BackendProcess("--seed", "7", "--data-dir", data).start()
    try:
        journal = stub_for(b.address).ListAlarms(
            alarms_pb2.ListAlarmsRequest(text="door_forced", page_size=500), timeout=10
        )
    finally:
        b.stop()
    assert any(a.acknowledged_by.startswith("simulated city") for a in journal.alarms)
