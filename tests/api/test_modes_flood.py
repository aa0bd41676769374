"""Flood on a real backend: its water sensors are set to a tighter low-pressure alarm threshold
(the SENSOR_LOW_PRESSURE_THRESHOLD action, confirmed from each sensor's own published state),
and Return to normal gives each sensor the threshold it had before, including one an operator
had set to another value before the mode."""

from __future__ import annotations

import uuid

from tests.api.test_modes import ModeStreamChecker, R, results, return_and_wait, watch
from tests.conftest import open_channel
from vigie.v1 import assets_pb2, assets_pb2_grpc, commands_pb2, commands_pb2_grpc, modes_pb2, modes_pb2_grpc

STEP = "tighter-water-thresholds"


def thresholds(ch) -> dict[str, str]:
    resp = assets_pb2_grpc.AssetServiceStub(ch).ListAssets(
        assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.WATER_SENSOR], page_size=1000), timeout=10
    )
    return {a.id: a.attributes.get("low_pressure_pct", "") for a in resp.assets}


def set_threshold(ch, asset_id: str, pct: int) -> None:
    stub = commands_pb2_grpc.CommandServiceStub(ch)
    resp = stub.Execute(
        commands_pb2.ExecuteRequest(
            idempotency_key=uuid.uuid4().hex,
            asset_ids=[asset_id],
            action=commands_pb2.SENSOR_LOW_PRESSURE_THRESHOLD,
            params=commands_pb2.CommandParams(level_percent=pct),
        ),
        timeout=10,
    )
    for status in stub.WatchCommand(
        commands_pb2.WatchCommandRequest(command_id=resp.status.command_id), timeout=30
    ):
        if status.done:
            assert [t.stage for t in status.targets] == [commands_pb2.CONFIRMED], status
            return
    raise AssertionError("command stream ended early")


def test_flood_tightens_the_water_sensors_thresholds_and_the_return_restores_each_one(make_backend):
    b = make_backend(
        "--seed", "6", "--quiet-city", "--lights", "200", "--vehicles", "0", "--badge-rate", "0",
        "--incident-rate", "0", "--command-failure-rate", "0",
    ).start()  # fmt: skip
    with open_channel(b.address, user="supervisor") as ch:
        stub = modes_pb2_grpc.ModeServiceStub(ch)
        before = thresholds(ch)
        assert len(before) == 150 and set(before.values()) == {"60"}
        sensors = sorted(before)
        set_threshold(ch, sensors[0], 70)  # an operator's own setting before the mode
        before = thresholds(ch)
        assert before[sensors[0]] == "70"

        checker = ModeStreamChecker()
        stream = watch(stub, timeout=180)
        checker.read_snapshot(stream)
        run = stub.Activate(
            modes_pb2.ActivateRequest(
                idempotency_key=uuid.uuid4().hex,
                mode_id="flood",
                scope=modes_pb2.ModeScope(whole_city=True),
                reason="the Ouche is rising",
                confirmed=True,
            ),
            timeout=30,
        ).run
        checker.read_until_true(
            stream, lambda: checker.runs.get(run.run_id, run).state in (R.ACTIVE, R.PARTIAL), 90
        )
        res = {i: r for i, r in results(stub, run.run_id).items() if r.step == STEP}
        healthy = {i for i, r in res.items() if not r.refused}
        assert set(res) == set(sensors) and healthy, "every water sensor is selected"
        assert all(res[i].stage == commands_pb2.CONFIRMED for i in healthy)
        during = thresholds(ch)
        assert {during[i] for i in healthy} == {"80"}
        assert all(during[i] == before[i] for i in set(sensors) - healthy)  # refused: untouched

        returned = return_and_wait(stub, checker, stream, run.run_id, "water down")
        stream.cancel()
        assert returned.state == R.RETURNED
        assert thresholds(ch) == before  # 60 everywhere, and the operator's 70 kept
