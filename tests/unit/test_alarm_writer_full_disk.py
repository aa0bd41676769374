"""The alarm writer on a really full disk (a small tmpfs filled up): its queue stays bounded (the
latest state of each alarm is kept first, the overflow is counted), it reports the trouble once,
and when space comes back it writes again and says so."""

from __future__ import annotations

import asyncio
import time

from tests.fixtures.storage import fill, small_tmpfs
from vigie.backend.domain.assets import Asset, Kind
from vigie.backend.store.alarms_sqlite import AlarmPersister, JournalQuery

BOUND = 200
LONG = "x" * 2000  # big rows: the WAL must grow, so writes really hit the full disk


def asset(i: int) -> Asset:
    return Asset(
        id=f"bol-{i:05d}", kind=Kind.BOLLARD, name=f"Bollard {i}", district="Centre", lat=47.3, lon=5.0
    )


def test_a_full_disk_bounds_the_queue_reports_and_recovers():
    with small_tmpfs(8) as disk:
        troubles: list[str | None] = []

        async def run() -> None:
            store = AlarmPersister(
                str(disk / "data"), history=100, max_pending=BOUND, on_trouble=troubles.append
            )
            engine = store.open_engine()
            store.start()
            engine.raise_alarm("bol-00000:jam", asset(0), "jam", 2, "before the disk filled", time.time())
            await store.flush()
            assert troubles == []
            filler = fill(disk)  # ENOSPC from here on
            for i in range(3001, 3101):  # enough rows for the WAL to need new space
                engine.raise_alarm(f"bol-{i:05d}:jam", asset(i), "jam", 2, LONG, time.time())
            deadline = time.monotonic() + 20
            while not troubles and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert len(troubles) == 1 and troubles[0] is not None and "cannot be saved" in troubles[0]
            most = 0
            for i in range(1, 3001):  # 3000 changes: 1500 alarms raised, 1500 cleared
                if i % 2:
                    engine.raise_alarm(f"bol-{i:05d}:jam", asset(i), "jam", 2, LONG, time.time())
                else:
                    engine.clear(f"bol-{i - 1:05d}:jam", time.time())
                most = max(most, store.pending)
                if i % 100 == 0:
                    await asyncio.sleep(0)  # let the writer try (and fail)
            assert most <= BOUND and store.pending <= BOUND
            assert len(troubles) == 1  # reported once per trouble
            # dropped: all but the queued ones and a batch that may be in the writer's hands
            assert store.failing is not None and store.dropped >= 3000 - 2 * BOUND
            last = engine.changes_after(engine.sequence - 1)[-1]  # the newest alarm, just cleared

            filler.unlink()  # space again: the next retry writes what is queued
            deadline = time.monotonic() + 20
            while troubles[-1] is not None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert troubles[1:] == [None] and store.failing is None
            await store.flush()  # what came while the recovering batch was written
            assert store.pending == 0
            saved = await store.get_many([last.id, "alm-000001"])
            assert saved[last.id].active is False  # the latest change of the newest alarm is saved
            assert saved["alm-000001"].message == "before the disk filled"
            _, total = await store.query(JournalQuery())
            # saved: the first alarm, warm-up alarms written before the disk was full (at most 100),
            # and the latest states kept in the queue and in the batch in the writer's hands
            assert BOUND // 2 <= total <= 1 + 100 + 2 * BOUND
            await store.close()

        asyncio.run(run())
