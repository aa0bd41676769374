"""The broker restarts (a clean stop and start on the same port, persistence on, as docs/devices.md
asks): a device publishing with QoS 1 across the restart loses no state change, and a command
sent while the broker is down acts exactly once."""

from __future__ import annotations

import asyncio
import threading
import time

from tests.api.test_commands import AssetWatch, execute, follow, stages_of
from tests.mqtt.helpers import LIGHT_TOPIC, devices_file
from tests.mqtt.test_commands_mqtt import Setup
from vigie.backend.adapters.mqtt.link import MqttLink
from vigie.v1 import commands_pb2

C = commands_pb2
N = 60  # states the device publishes, one every 50 ms, the broker going away in the middle


class PublishingDevice:
    """light-t1 publishing N numbered states through Vigie's device-side link (the one vigie-devices
    uses), on its own thread and loop."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.published = 0  # states handed to the link
        self.progress = threading.Condition()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:
            self.error = exc
            with self.progress:
                self.progress.notify_all()

    async def _run(self) -> None:
        link = MqttLink("127.0.0.1", self.port, "test-light-t1", [], lambda t, p: None)
        link.start()
        for n in range(N):
            payload = f'{{"seq":{n + 1},"time":{time.time()},"status":"ok","attributes":{{"n":"{n}"}}}}'
            link.publish(f"{LIGHT_TOPIC}/state", payload.encode(), retain=True)
            with self.progress:
                self.published = n + 1
                self.progress.notify_all()
            await asyncio.sleep(0.05)  # the device's own pace, not a synchronisation
        while link.outbox or not link.connected.is_set():  # until the broker acknowledged everything
            await asyncio.sleep(0.05)
        await link.stop()

    def wait_published(self, n: int, timeout: float = 60) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: self.published >= n or self.error is not None, timeout)
        assert self.error is None, f"the device failed: {self.error!r}"


def numbers(watch: AssetWatch) -> list[int]:
    return [int(a.attributes["n"]) for a in watch.of("light-t1") if "n" in a.attributes]


def test_a_device_publishing_across_a_broker_restart_loses_no_state_change(broker, make_backend):
    backend = make_backend("--devices", broker.url, "--devices-file", str(devices_file())).start()
    watch = AssetWatch(backend.address)
    try:
        device = PublishingDevice(broker.port)
        assert watch.wait(lambda: len(numbers(watch)) >= 10, 30), "nothing reached the backend"
        broker.stop()  # persistence written: sessions, queued and retained messages
        device.wait_published(40)  # a second or more of states with no broker
        broker.start()
        device.wait_published(N)
        device.thread.join(60)
        assert not device.thread.is_alive() and device.error is None
        assert watch.wait(lambda: N - 1 in numbers(watch), 60), f"last state missing: {numbers(watch)[-5:]}"
        watch.caught_up()
        # Every state, in order, once: none lost in the restart, none applied twice.
        assert numbers(watch) == list(range(N))
    finally:
        watch.close()


def test_a_command_sent_while_the_broker_restarts_acts_exactly_once(broker, make_backend):
    city = Setup(broker, make_backend, ack_timeout="60")
    try:
        light = city.light()
        broker.stop()
        status = execute(city.operator, [light.id], C.LIGHT_DIM, params=C.CommandParams(level_percent=55))
        assert [t.stage for t in status.targets] == [C.ACCEPTED]
        broker.start()
        statuses = follow(city.operator, status.command_id)
        assert stages_of(statuses, light.id) == [C.ACCEPTED, C.ACKNOWLEDGED, C.CONFIRMED]
        # Acted once: one new state. A second action would report within the light's 1 s
        # actuation (backend/adapters/simulator/actuators.py): watch for three times that.
        city.watch.wait(lambda: False, 3.0)  # a window of observation, not a synchronisation
        city.watch.caught_up()
        assert [a.attributes.get("level_pct") for a in city.watch.of(light.id)] == ["55"]
    finally:
        city.close()
