"""The asset store's revision log: consecutive revisions, bounded history, waking watchers."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.domain.revlog import AssetStore, HistoryExpired


def light(i: int, status: Status = Status.OK) -> Asset:
    return Asset(f"lgt-{i}", Kind.STREET_LIGHT, f"Light {i}", "Centre-Ville", 47.3, 5.0, status)


def test_each_change_gets_the_next_revision():
    store = AssetStore()
    assert store.publish(light(i) for i in range(3)) == 3
    changed = dataclasses.replace(store.get("lgt-1"), status=Status.FAULT)
    assert store.publish([changed]) == 4
    assert [a.revision for a in store.changes_after(2)] == [3, 4]
    assert store.get("lgt-1").status is Status.FAULT and store.get("lgt-1").revision == 4
    assert store.changes_after(4) == []
    assert [a.revision for a in store.changes_after(0, limit=2)] == [1, 2]


def test_published_states_are_not_shared():
    store = AssetStore()
    store.publish([light(1)])
    first = store.get("lgt-1")
    store.publish([first])  # republishing a published object copies it
    assert first.revision == 1 and store.get("lgt-1").revision == 2


def test_history_is_bounded_and_expiry_is_explicit():
    store = AssetStore(history=10)
    for i in range(100):
        store.publish([light(i % 5)])
    assert store.revision == 100
    assert store.oldest_available > 80
    with pytest.raises(HistoryExpired) as err:
        store.changes_after(5)
    assert err.value.oldest_available == store.oldest_available
    resumed = store.changes_after(store.oldest_available - 1)
    assert [a.revision for a in resumed] == list(range(store.oldest_available, 101))


def test_watchers_wake_on_change():
    async def scenario() -> tuple[bool, bool]:
        store = AssetStore()
        store.publish([light(1)])
        quiet = await store.wait_for_change(1, timeout=0.05)
        waiter = asyncio.create_task(store.wait_for_change(1, timeout=5))
        await asyncio.sleep(0)
        store.publish([light(2)])
        return quiet, await waiter

    assert asyncio.run(scenario()) == (False, True)
