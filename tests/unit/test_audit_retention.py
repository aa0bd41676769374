"""The audit trail's retention on a real SQLite file: records older than the age limit go, the
oldest records go while the file holds more than the size limit (so the file stops growing), and
the store applies both by itself, periodically, on its writer thread."""

from __future__ import annotations

import asyncio
import time

from vigie.backend.domain.audit import AuditEntry
from vigie.backend.store.audit_sqlite import AuditQuery, AuditStore

DAY = 86_400.0
KIB = 1024


def entry(t: float, target: str = "t", reason: str = "") -> AuditEntry:
    return AuditEntry("u", "c", "login", target, reason, "ok", time=t)


def test_records_older_than_the_age_limit_are_deleted(tmp_path):
    async def run() -> None:
        store = AuditStore(str(tmp_path), retention_days=1)
        now = time.time()
        for i in range(10):
            store.record(entry(now - 3 * DAY + i, target=f"old{i}"))
        for i in range(5):
            store.record(entry(now - 0.5 * DAY + i, target=f"new{i}"))
        assert await store.prune() == 10
        rows, total = await store.query(AuditQuery())
        assert total == 5 and {r.entry.target for r in rows} == {f"new{i}" for i in range(5)}
        await store.close()

    asyncio.run(run())


def test_the_size_limit_deletes_the_oldest_and_the_file_stops_growing(tmp_path):
    async def run() -> None:
        store = AuditStore(str(tmp_path), max_bytes=512 * KIB)
        file = tmp_path / "audit.sqlite3"
        sizes = []
        n = 0
        for _ in range(6):  # 6 rounds of about 1 MiB of records each
            for _ in range(1000):
                n += 1
                store.record(entry(time.time(), target=f"t{n}", reason="x" * 1000))
            assert await store.prune() > 0
            sizes.append(file.stat().st_size)
            rows, total = await store.query(AuditQuery(limit=1))
            assert rows[0].entry.target == f"t{n}"  # the newest is kept
            assert 0 < total < 512  # ~1.1 KiB a record: at most 512 KiB of them remain
        # the file holds the limit plus what comes between two passes; freed pages are reused,
        # so after the second round it stops growing
        assert max(sizes[2:]) <= sizes[1] * 1.05, sizes
        assert (tmp_path / "audit.sqlite3-wal").stat().st_size == 0  # checkpointed and truncated
        _, total = await store.query(AuditQuery(text="t1\n"))
        assert total == 0  # the oldest went first
        await store.close()

    asyncio.run(run())


def test_the_store_prunes_by_itself(tmp_path):
    async def run() -> None:
        store = AuditStore(str(tmp_path), retention_days=1, prune_every_s=0.05)
        await store.start()
        store.record(entry(time.time() - 2 * DAY))
        store.record(entry(time.time()))
        deadline = time.monotonic() + 10
        total = 2
        while total != 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # polled with a deadline: the next periodic pass deletes it
            total = (await store.query(AuditQuery()))[1]
        assert total == 1
        await store.close()

    asyncio.run(run())
