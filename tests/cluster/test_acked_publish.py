"""The leader's states reach the bucket even when JetStream does not take them at first: while
the asset stream listens on no subject (as when it has no leader, or its node is gone), every
state sent is unacknowledged; the publisher sends each device's last state again until it is
acknowledged, so once the stream is back the bucket holds every device's last state. Plain
publishes would have lost them without a word."""

from __future__ import annotations

import asyncio
import time

from vigie.backend.bus.assets import LeaderPublisher
from vigie.backend.bus.codec import decode, key_of
from vigie.backend.bus.connection import ASSETS_STREAM, Bus, BusOptions
from vigie.backend.domain.assets import Asset, Kind
from vigie.backend.domain.revlog import AssetStore

DEVICES = 300


def states(version: str) -> list[Asset]:
    return [
        Asset(
            f"light-{i:04d}", Kind.STREET_LIGHT, f"Light {i}", "centre", 47.3, 5.0, attributes={"v": version}
        )
        for i in range(DEVICES)
    ]


async def until(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)  # counters have no event: polled under the deadline


async def scenario(url: str) -> tuple[int, float]:
    bus = await Bus.connect(BusOptions(url))
    publisher = LeaderPublisher(bus.nc, AssetStore(), owner="test")
    publisher.leading = True
    await publisher.start()
    try:
        publisher.publish(states("1"))
        await until(lambda: publisher.sent >= DEVICES, 30, "the first states were not acknowledged")

        # The stream stops taking the bucket's subjects: what is published now is not stored.
        config = (await bus.js.stream_info(ASSETS_STREAM)).config
        subjects = list(config.subjects or [])
        config.subjects = ["$KV.nowhere.>"]
        await bus.js.update_stream(config)
        publisher.publish(states("2"))
        # Either sent again (acknowledged publishing) or counted as sent (plain publishing).
        await until(
            lambda: publisher.resent > 0 or publisher.sent >= 2 * DEVICES,
            30,
            "the second states never went out",
        )
        config.subjects = subjects
        t_back = time.monotonic()
        await bus.js.update_stream(config)

        async def versions() -> dict[str, str]:
            got = {}
            for a in states("2"):
                entry = await bus.assets.get(key_of(a.id))
                got[a.id] = decode(entry.value or b"", 0).attributes["v"]
            return got

        deadline = time.monotonic() + 30
        while (found := await versions()) != {a.id: "2" for a in states("2")}:
            stale = sorted(k for k, v in found.items() if v != "2")
            assert time.monotonic() < deadline, f"{len(stale)} devices kept an older state, e.g. {stale[:3]}"
            await asyncio.sleep(0.2)  # the bucket has no event to wait on: polled under the deadline
        return publisher.resent, time.monotonic() - t_back
    finally:
        await publisher.stop()
        await bus.close()


def test_states_not_acknowledged_are_sent_again_until_the_stream_takes_them(nats_server, capsys):
    resent, took = asyncio.run(scenario(nats_server.url))
    assert resent >= DEVICES
    with capsys.disabled():
        print(
            f"\n[acked publish] {resent} states sent again; all in the bucket {took:.1f} s after the stream was back"
        )


CITY = 12_000  # a starting leader's first batch: the whole city, more than one round


async def big_batch(url: str) -> tuple[list[int], int]:
    bus = await Bus.connect(BusOptions(url))
    publisher = LeaderPublisher(bus.nc, AssetStore(), owner="test")
    publisher.leading = True
    await publisher.start()
    sizes: list[int] = []
    send = publisher._acked.send

    async def recording_send(out):  # the real send, its batch sizes noted
        sizes.append(len(out))
        return await send(out)

    publisher._acked.send = recording_send
    try:
        city = [
            Asset(
                f"light-{i:05d}", Kind.STREET_LIGHT, f"Light {i}", "centre", 47.3, 5.0, attributes={"v": "1"}
            )
            for i in range(CITY)
        ]
        publisher.publish(city)
        await until(
            lambda: publisher.sent >= CITY, 60, f"only {publisher.sent} of {CITY} states acknowledged"
        )
        info = await bus.js.stream_info(ASSETS_STREAM)
        return sizes, info.state.messages
    finally:
        await publisher.stop()
        await bus.close()


def test_a_city_sized_batch_goes_out_in_rounds_of_at_most_5000(nats_server):
    sizes, stored = asyncio.run(big_batch(nats_server.url))
    assert max(sizes) <= 5000, f"sent at once: {sizes}"
    assert sum(sizes) == CITY and len(sizes) == 3, sizes  # 5000 + 5000 + 2000, none sent again
    assert stored == CITY
