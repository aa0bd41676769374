"""A replica that leads again starts its MQTT session afresh (backend/adapters/mqtt/link.py
`fresh_session`): what the broker queued for its client id while it was away (acknowledgements,
badges, states the bucket has had since) is not delivered to it, and later messages are. Without
it, the persistent session hands the whole backlog over first (the control case)."""

from __future__ import annotations

import asyncio

import pytest

from vigie.backend.adapters.mqtt.link import MqttLink

TOPIC = "vigie/d1/light/l-1/event"
QUEUED = 20


async def until(condition, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


async def backlog_seen(port: int, fresh: bool) -> list[str]:
    """A subscriber connects, leaves, QUEUED messages are published while it is away; it comes
    back (afresh or not), then one more message is published. Returns what it received."""
    got: list[str] = []
    subscriber = MqttLink("127.0.0.1", port, "replica-a", [TOPIC], lambda t, p: got.append(p.decode()))
    subscriber.start()
    await asyncio.wait_for(subscriber.connected.wait(), 20)
    await subscriber.stop()

    device = MqttLink("127.0.0.1", port, "device-l-1", [], lambda t, p: None)
    device.start()
    for n in range(QUEUED):
        device.publish(TOPIC, f"old-{n}".encode())
    await until(lambda: device.published == QUEUED)

    subscriber = MqttLink("127.0.0.1", port, "replica-a", [TOPIC], lambda t, p: got.append(p.decode()))
    subscriber.fresh_session = fresh
    subscriber.start()
    await asyncio.wait_for(subscriber.connected.wait(), 20)
    device.publish(TOPIC, b"new")
    await until(lambda: "new" in got)
    await subscriber.stop()
    await device.stop()
    return got


@pytest.mark.parametrize("fresh", [False, True], ids=["persistent", "fresh"])
def test_a_fresh_session_drops_what_the_broker_queued_while_away(broker, fresh):
    got = asyncio.run(backlog_seen(broker.port, fresh))
    if fresh:
        assert got == ["new"]
    else:  # the control: the broker does keep the session, so the fresh case shows something
        assert got == [f"old-{n}" for n in range(QUEUED)] + ["new"]
