"""The backend's in-memory histories are bounded, however long it serves: the asset and alarm
change logs keep between `history` and 1.25 times `history` changes (trimmed in one cut, so
appends stay O(1)), and the wall registry remembers the newest MAX_DELETED_KEPT deletions."""

from __future__ import annotations

import asyncio

import pytest

from vigie.backend.domain.assets import Asset, Kind
from vigie.backend.domain.changelog import ChangeLog, HistoryExpired
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.domain.walls import MAX_DELETED_KEPT, WallRegistry


def test_the_change_log_keeps_at_most_a_quarter_more_than_its_history():
    log: ChangeLog[int] = ChangeLog(1000)
    most = 0
    for n in range(100_000):  # 100,000 changes, one at a time
        log.append([n])
        most = max(most, log.last - log.oldest_available + 1)
    assert most == 1250
    assert log.last == 100_000
    assert log.after(log.last - 1000) == list(range(99_000, 100_000))  # the newest `history` are there
    with pytest.raises(HistoryExpired):
        log.after(0)


def test_the_asset_store_ring_is_bounded_by_its_history():
    store = AssetStore(history=500)
    for n in range(20_000):
        store.publish([Asset(f"light-{n % 50}", Kind.STREET_LIGHT, "L", "Centre", 0.0, 0.0)])
    assert store.revision == 20_000
    assert store.revision - store.oldest_available + 1 <= 625
    assert len(store) == 50  # the current state: one per asset


def test_the_wall_registry_remembers_the_newest_deletions_only():
    walls = WallRegistry(max_walls=4)
    total = MAX_DELETED_KEPT + 200
    for n in range(total):  # walls made and deleted over a long run
        walls.create(f"wall-{n}", ("display-1",))
        walls.delete(f"wall-{n}")
    deleted = walls.deleted_after(0)
    assert len(deleted) == MAX_DELETED_KEPT
    assert "wall-0" not in deleted and f"wall-{total - 1}" in deleted


def test_a_watcher_that_does_not_read_holds_at_most_the_watch_backlog():
    from vigie.backend.domain.actions import Action
    from vigie.backend.domain.commands import WATCH_BACKLOG, Command, CommandRequest, Stage, TargetProgress

    ids = [f"light-{n}" for n in range(200)]
    request = CommandRequest("key-1", tuple(ids), Action.LIGHT_ON, reason="test")
    cmd = Command(
        "cmd-1", request, "op", "console", 0.0, [TargetProgress(i, Stage.ACCEPTED, "", 0.0) for i in ids], "f"
    )

    async def stalled_watcher() -> list:
        watch = cmd.watch()
        first = await anext(watch)  # the status now; then the watcher stops reading
        for i in ids[:-1]:  # 398 changes while it does not read
            cmd.advance(i, Stage.ACKNOWLEDGED, "")
            cmd.advance(i, Stage.CONFIRMED, "")
        cmd.advance(ids[-1], Stage.FAILED, "no answer")
        seen = [first] + [snap async for snap in watch]
        return seen

    seen = asyncio.run(stalled_watcher())
    assert len(seen) == 1 + WATCH_BACKLOG  # the oldest changes were skipped, not queued
    assert seen[-1].done  # the last state always arrives


def test_a_restarted_backend_reloads_no_more_than_its_alarm_history(tmp_path):
    from vigie.backend.cli import parse_args
    from vigie.backend.store.alarms_sqlite import AlarmPersister

    history = parse_args(["--alarm-history", "50"]).alarm_history
    assert history == 50
    with pytest.raises(SystemExit):
        parse_args(["--alarm-history", "0"])
    light = Asset("light-1", Kind.STREET_LIGHT, "L", "Centre", 0.0, 0.0)

    async def run() -> None:
        for _ in range(2):  # the second run reloads what the first one wrote
            store = AlarmPersister(str(tmp_path), history=history)
            engine = store.open_engine()
            store.start()
            most = 0
            for n in range(300):  # 600 changes: raised, cleared (and acknowledged below)
                engine.raise_alarm("light-1:lamp", light, "lamp", 3, f"lamp out {n}", float(n))
                engine.clear("light-1:lamp", float(n) + 0.5)
                most = max(most, engine.sequence - engine.oldest_available + 1)
            assert most <= 62  # history + a quarter
            await store.flush()
            await store.close()
        reopened = AlarmPersister(str(tmp_path), history=history)
        engine = reopened.open_engine()
        assert engine.sequence - engine.oldest_available + 1 == 50
        await reopened.close()

    asyncio.run(run())
