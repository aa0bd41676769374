"""Fixtures of the MQTT tests: each test gets its own broker (docs/devices.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mqtt.broker import Mosquitto


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    b = Mosquitto().start()
    yield b
    b.kill()
