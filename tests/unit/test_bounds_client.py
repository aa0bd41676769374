"""The console's client keeps per-stream state bounded: changes waiting for the next flush are
one per asset (or alarm), however many arrive, and a watch that reopens (a reconnect) drops a
snapshot it had only partly received instead of adding the next one to it."""

from __future__ import annotations

import asyncio

import grpc

from vigie.app.client.alarms import AlarmsClient
from vigie.app.client.assets import AssetsClient
from vigie.app.client.core import ClientCore
from vigie.app.client.streams import Resume
from vigie.v1 import alarms_pb2, assets_pb2


def _changes(first_revision: int, ids: list[str]) -> assets_pb2.WatchAssetsResponse:
    msg = assets_pb2.WatchAssetsResponse(revision=first_revision + len(ids) - 1, epoch="e")
    for i, aid in enumerate(ids):
        msg.changes.changes.add(revision=first_revision + i, asset=assets_pb2.Asset(id=aid, name=aid))
    return msg


def test_pending_asset_changes_are_one_per_asset(qapp):
    client = AssetsClient(ClientCore("127.0.0.1:9"))  # never started: fed directly
    ids = [f"light-{n}" for n in range(100)]
    revision = 1
    for _ in range(50):  # 5,000 changes of the same 100 assets before a flush
        client._on_message(_changes(revision, ids))
        revision += len(ids)
    assert len(client._pending) == 100
    assert client._pending_count == 5_000  # every change is still counted


def test_pending_alarm_changes_are_one_per_alarm(qapp):
    client = AlarmsClient(ClientCore("127.0.0.1:9"))
    for n in range(3_000):
        msg = alarms_pb2.WatchAlarmsResponse(sequence=n + 1)
        msg.changes.changes.add(sequence=n + 1, alarm=alarms_pb2.Alarm(id=f"alarm-{n % 30}"))
        client.feed.feed(msg)
    assert len(client.feed._pending) == 30


def test_a_reconnect_drops_a_partly_received_snapshot(qapp):
    core = ClientCore("127.0.0.1:9")
    client = AssetsClient(core)
    partial = assets_pb2.WatchAssetsResponse(revision=10, epoch="e")
    partial.snapshot.assets.extend(assets_pb2.Asset(id=f"a{n}") for n in range(1_000))
    partial.snapshot.last = False

    async def reopen() -> None:
        core.channel = grpc.aio.insecure_channel("127.0.0.1:9")  # nothing listens: never read
        try:
            for _ in range(5):  # the link breaks mid-snapshot, five times
                client._on_message(partial)
                call = await client._open(Resume())
                call.cancel()
            client._on_message(partial)
        finally:
            await core.channel.close()

    asyncio.run(reopen())
    assert len(client._snapshot) == 1_000


def test_the_asset_store_queues_one_change_per_asset(qapp):
    from vigie.app.models.assets import AssetStore
    from vigie.app.models.records import AssetRecord

    store = AssetStore()
    for n in range(5_000):  # 5,000 changes of 100 assets before a tick
        rec = AssetRecord(f"light-{n % 100}", "street_light", "L", "Centre", 0.0, 0.0, "ok", "", 0.0, 0.0, n)
        store.queue_changes([rec], n, 1)
    assert store.pending() == 100
    assert store.changes_applied == 5_000
