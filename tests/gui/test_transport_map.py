"""Transit signal priority on the map: with TSP on at every junction of the lines (transit 50
times faster than real time), the map page draws the junctions that granted priority, green, as
the priority watch reports them (the page's own drawn set is read back)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from tests.conftest import BackendProcess, open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.v1 import commands_pb2, commands_pb2_grpc, transit_pb2, transit_pb2_grpc

SHOTS = Path(os.environ.get("VIGIE_SHOTS", "/work/shots/transport"))


@pytest.fixture(scope="module")
def busy_city():
    b = BackendProcess(
        "--seed", "7", "--lights", "200", "--transit-speed", "50", "--command-failure-rate", "0"
    ).start()
    with open_channel(b.address, "supervisor") as ch:
        transit = transit_pb2_grpc.TransitServiceStub(ch)
        junctions = [
            j.junction_id
            for j in transit.GetTspConfig(transit_pb2.GetTspConfigRequest(), timeout=10).junctions
        ]
        commands_pb2_grpc.CommandServiceStub(ch).Execute(
            commands_pb2.ExecuteRequest(
                idempotency_key=uuid.uuid4().hex,
                asset_ids=junctions,
                action=commands_pb2.SIGNAL_BUS_PRIORITY_ON,
            ),
            timeout=10,
        )
    yield b
    b.stop()


def test_junctions_granting_priority_are_drawn_on_the_map(qtbot, busy_city):
    window = ConsoleHarness(busy_city.address, user="operator").start()
    try:
        qtbot.waitUntil(lambda: window.session.role != "" and window.assets.total() > 0, timeout=30000)
        view = window.console.map
        assert view is not None
        qtbot.waitUntil(lambda: view.ready, timeout=60000)
        page: dict = {}

        def granted_drawn() -> bool:
            view.run_js("JSON.stringify(window.vigieMap.tsp.stats())", lambda r: page.update(stats=r))
            stats = json.loads(page["stats"]) if page.get("stats") else {}
            return "granted" in stats.get("kinds", [])

        qtbot.waitUntil(granted_drawn, timeout=90000)
        stats = json.loads(page["stats"])
        assert stats["junctions"] == len(view.tsp.latest) or stats["junctions"] > 0
        assert all(v["kind"] in ("granted", "denied", "preemption_start") for v in view.tsp.latest.values())
        if SHOTS.is_dir():
            granted = next(v for v in view.tsp.latest.values() if v["kind"] == "granted")
            view.bridge.setView.emit(json.dumps({"lat": granted["lat"], "lon": granted["lon"], "zoom": 16}))
            qtbot.wait(1500)  # let the page fly and draw before the picture (not synchronisation)
            window.window.grab().save(str(SHOTS / "map_tsp_grant.png"))
    finally:
        window.close()
