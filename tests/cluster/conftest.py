"""Cluster tests start their own nats-server (tests/cluster/nats_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.nats_server import NatsServer


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    s = NatsServer().start()
    yield s
    s.kill()
