"""ClusterNetwork on the leader, without a bus: commands act as soon as the device network says
it takes them (an MQTT link connected and subscribed), before its start has finished (the
retained states settling), and still once per command id; a network that says nothing takes
them once started. MqttNetwork looks a device it has not heard yet up again after the settle."""

from __future__ import annotations

import asyncio

from vigie.backend.adapters.base import DeviceAnswer, DeviceCommand
from vigie.backend.adapters.mqtt import MqttNetwork
from vigie.backend.bus.commands import ClusterNetwork
from vigie.backend.domain.actions import Action, Params


class FakeSub:
    async def unsubscribe(self) -> None:
        return None


class FakeBus:
    """The little of a nats Client that ClusterNetwork uses on the leader."""

    async def subscribe(self, subject: str, cb) -> FakeSub:
        return FakeSub()


class SlowStart:
    """A device network whose start ends only when `finish` is set; with `early`, it says it
    takes commands (`commands_ready`) before that."""

    def __init__(self, early: bool) -> None:
        if early:
            self.commands_ready = asyncio.Event()
        self.finish = asyncio.Event()
        self.acted: list[str] = []

    async def start(self, store) -> None:
        await self.finish.wait()

    async def stop(self) -> None:
        return None

    async def command(self, command: DeviceCommand) -> DeviceAnswer:
        self.acted.append(command.command_id)
        await asyncio.sleep(0.05)  # the device's round trip: a resend arrives meanwhile
        return DeviceAnswer(True, "acknowledged")


def light_on(command_id: str) -> DeviceCommand:
    return DeviceCommand(command_id, "lgt-0001", Action.LIGHT_ON, Params())


def test_commands_act_once_the_network_takes_them_before_its_start_ends():
    async def scenario() -> None:
        inner = SlowStart(early=True)
        net = ClusterNetwork(inner, FakeBus(), lambda: True)  # type: ignore[arg-type]
        starting = asyncio.ensure_future(net.start(None))
        first = asyncio.ensure_future(net.command(light_on("c1")))
        await asyncio.sleep(0.1)
        assert not first.done() and inner.acted == []  # neither started nor ready: waits
        inner.commands_ready.set()
        again = asyncio.ensure_future(net.command(light_on("c1")))  # the same id, sent again
        answers = await asyncio.wait_for(asyncio.gather(first, again), 5)
        assert [a.ok for a in answers] == [True, True]
        assert inner.acted == ["c1"]  # acted once
        assert not starting.done()  # the start still settles meanwhile
        inner.finish.set()
        await asyncio.wait_for(starting, 5)
        assert (await net.command(light_on("c1"))).ok and inner.acted == ["c1"]
        await net.stop()

    asyncio.run(scenario())


def test_a_network_that_does_not_say_it_is_ready_takes_commands_once_started():
    async def scenario() -> None:
        inner = SlowStart(early=False)
        net = ClusterNetwork(inner, FakeBus(), lambda: True)  # type: ignore[arg-type]
        starting = asyncio.ensure_future(net.start(None))
        pending = asyncio.ensure_future(net.command(light_on("c2")))
        await asyncio.sleep(0.2)
        assert not pending.done() and inner.acted == []
        inner.finish.set()
        await asyncio.wait_for(starting, 5)
        assert (await asyncio.wait_for(pending, 5)).ok and inner.acted == ["c2"]
        await net.stop()

    asyncio.run(scenario())


def test_an_unheard_device_is_looked_up_again_once_the_retained_states_settled():
    async def scenario() -> None:
        net = MqttNetwork("127.0.0.1", 1, [], discover=True)  # never started: nothing settles by itself
        asking = asyncio.ensure_future(net.command(light_on("c3")))
        await asyncio.sleep(0.1)
        assert not asking.done()  # not refused while its retained state may still come
        net._settled.set()
        answer = await asyncio.wait_for(asking, 5)
        assert not answer.ok and "unknown device" in answer.detail

    asyncio.run(scenario())
