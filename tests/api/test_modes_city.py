"""Health emergency on the default simulated city: fully confirmed within 60 s, doors of the
closed building types locked and the bus-line junctions on bus priority (as the devices report
it); a kill -9 in the middle of the activation loses neither the run nor its recorded states."""

from __future__ import annotations

import os
import stat
import tempfile
import time
import uuid
from pathlib import Path

from tests.conftest import open_channel
from vigie.v1 import assets_pb2, assets_pb2_grpc, modes_pb2, modes_pb2_grpc

R = modes_pb2.ModeRun
CLOSED = {
    "École élémentaire",
    "École maternelle",
    "Crèche",
    "Gymnase",
    "Piscine",
    "Bibliothèque",
    "Musée",
    "Conservatoire",
    "Maison de quartier",
    "Centre social",
}
HEALTHY = assets_pb2.Asset.OK


def activate(stub) -> modes_pb2.ModeRun:
    return stub.Activate(
        modes_pb2.ActivateRequest(
            idempotency_key=uuid.uuid4().hex,
            mode_id="health_emergency",
            scope=modes_pb2.ModeScope(whole_city=True),
            reason="epidemic",
            confirmed=True,
        ),
        timeout=30,
    ).run


def watch(stub, timeout: float):
    """Opened before the call it follows: a run that finishes at once is seen in its changes (a
    snapshot lists only the runs not returned)."""
    return stub.WatchModes(modes_pb2.WatchModesRequest(), timeout=timeout)


def wait_until(stream, run_id: str, done: set[int]) -> tuple[modes_pb2.ModeRun, float]:
    t0 = time.monotonic()
    for msg in stream:
        for run in [c.run for c in msg.changes.changes] + list(msg.snapshot.runs):
            if run.run_id == run_id and run.state in done:
                return run, time.monotonic() - t0
    raise AssertionError("stream ended")


def assets(ch, kind: int) -> list[assets_pb2.Asset]:
    stub = assets_pb2_grpc.AssetServiceStub(ch)
    return list(
        stub.ListAssets(assets_pb2.ListAssetsRequest(kinds=[kind], page_size=10_000), timeout=30).assets
    )


def test_whole_city_health_emergency_is_confirmed_within_60_s(make_backend):
    b = make_backend(
        "--seed", "2", "--quiet-city", "--command-failure-rate", "0", "--badge-rate", "0"
    ).start()
    with open_channel(b.address, user="supervisor") as ch:
        stub = modes_pb2_grpc.ModeServiceStub(ch)
        stream = watch(stub, 60)
        t0 = time.monotonic()
        run = activate(stub)
        done, _ = wait_until(stream, run.run_id, {R.ACTIVE, R.PARTIAL})
        stream.cancel()
        took = time.monotonic() - t0
        assert took < 60 and done.state == R.ACTIVE, (took, done)
        assert done.confirmed == done.total and done.total > 3000 and done.pending == 0
        doors = [a for a in assets(ch, assets_pb2.Asset.ACCESS_POINT) if a.status == HEALTHY]
        closed = [a for a in doors if a.attributes["building_type"] in CLOSED]
        assert closed and all(a.attributes["lock"] == "locked" for a in closed)
        signals = [a for a in assets(ch, assets_pb2.Asset.TRAFFIC_SIGNAL) if a.status == HEALTHY]
        bus = [s for s in signals if "bus_line" in s.attributes.get("tags", "").split(",")]
        assert bus and all(s.attributes["bus_priority"] == "on" for s in bus)
        assert all(s.attributes["bus_priority"] == "off" for s in signals if s not in bus)
        dimmed = [a for a in assets(ch, assets_pb2.Asset.STREET_LIGHT) if a.attributes["level_pct"] == "30"]
        assert len(dimmed) > 1000  # thousands of lights around the closed buildings


def test_kill_9_during_activation_keeps_the_run_and_its_recorded_states(make_backend):
    data = tempfile.mkdtemp(prefix="vigie-modes-kill-")
    b = make_backend(
        "--seed", "2", "--quiet-city", "--command-failure-rate", "0", "--badge-rate", "0", "--data-dir", data
    )
    b.start()
    with open_channel(b.address, user="supervisor") as ch:
        before = {a.id: dict(a.attributes) for a in assets(ch, assets_pb2.Asset.ACCESS_POINT)}
        run = activate(modes_pb2_grpc.ModeServiceStub(ch))
    b.kill()  # while the commands are on their way
    assert stat.S_IMODE(os.stat(Path(data, "modes.sqlite3")).st_mode) == 0o600
    b.start()
    with open_channel(b.address, user="supervisor") as ch:
        stub = modes_pb2_grpc.ModeServiceStub(ch)
        active = stub.ListModes(modes_pb2.ListModesRequest(), timeout=10).active
        assert [r.run_id for r in active] == [run.run_id]
        assert active[0].state in (R.ACTIVE, R.PARTIAL)  # what was on its way timed out
        got = stub.GetRun(modes_pb2.GetRunRequest(run_id=run.run_id, page_size=5000), timeout=10)
        doors = {r.asset_id: r for r in got.results if r.step == "close-buildings"}
        assert doors
        for door_id, r in doors.items():
            assert r.previous_state == before[door_id]["lock"], (door_id, r.previous_state)
        stream = watch(stub, 60)
        stub.ReturnToNormal(
            modes_pb2.ReturnToNormalRequest(
                idempotency_key=uuid.uuid4().hex, run_id=run.run_id, reason="over", confirmed=True
            ),
            timeout=30,
        )
        final, _ = wait_until(stream, run.run_id, {R.RETURNED, R.RETURNED_PARTIAL})
        stream.cancel()
        assert final.state == R.RETURNED
        after = {a.id: a.attributes["lock"] for a in assets(ch, assets_pb2.Asset.ACCESS_POINT)}
        assert {d: after[d] for d in doors} == {d: before[d]["lock"] for d in doors}
