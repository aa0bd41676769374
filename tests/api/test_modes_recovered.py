"""A device refused at a mode's activation (it was faulty) is sent the mode once it recovers:
RetryFailed with include_recovered reaches that device only, records its state first, and the
return to normal gives it back exactly that state. The recovery is real: a technical crew of the
simulated city repairs the light (an incident, a recommended crew, assigned), driving 40× faster."""

from __future__ import annotations

import uuid

import grpc
import pytest

from tests.api.incident_helpers import UNIT, Stubs
from tests.api.test_incidents_simulation import Recorder
from tests.api.test_modes import (
    ModeStreamChecker,
    R,
    activate,
    lights,
    modes_dir,
    results,
    return_and_wait,
    state,
    watch,
)
from vigie.v1 import (
    alarms_pb2,
    alarms_pb2_grpc,
    assets_pb2,
    assets_pb2_grpc,
    commands_pb2,
    modes_pb2,
    modes_pb2_grpc,
)

BAD = (assets_pb2.Asset.OFFLINE, assets_pb2.Asset.FAULT, assets_pb2.Asset.MAINTENANCE)


def retry(stub, run_id: str, include_recovered: bool) -> modes_pb2.RetryFailedResponse:
    return stub.RetryFailed(
        modes_pb2.RetryFailedRequest(
            idempotency_key=uuid.uuid4().hex,
            run_id=run_id,
            reason="repaired",
            confirmed=True,
            include_recovered=include_recovered,
        ),
        timeout=30,
    )


def test_a_refused_device_that_recovers_is_sent_the_mode_and_returned_to_its_state_then(make_backend):
    b = make_backend(
        "--seed", "5", "--quiet-city", "--lights", "300", "--badge-rate", "0", "--incident-rate", "0",
        "--dispatch-speedup", "40", "--command-failure-rate", "0", "--modes", modes_dir(),
    ).start()  # fmt: skip
    sup = Stubs(b.address, "supervisor")
    stub = modes_pb2_grpc.ModeServiceStub(sup.channel)
    before = lights(sup.channel)
    faulty = sorted(i for i, a in before.items() if a.status == assets_pb2.Asset.FAULT)
    unhealthy = {i for i, a in before.items() if a.status in BAD}
    assert faulty, "the seeded city has faulty lights"
    light = faulty[0]

    checker = ModeStreamChecker()
    stream = watch(stub, timeout=240)
    checker.read_snapshot(stream)
    run = activate(stub).run
    checker.read_until_true(stream, lambda: checker.runs.get(run.run_id, run).state == R.ACTIVE, 90)
    res = results(stub, run.run_id)
    assert {i for i, r in res.items() if r.refused} == unhealthy and light in unhealthy

    # Nothing failed and nothing refused is able yet: nothing to retry.
    with pytest.raises(grpc.RpcError) as refused:
        retry(stub, run.run_id, include_recovered=True)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no refused device is able now" in refused.value.details()

    # A technical crew repairs the light: its fault alarm, an incident from it, the first crew.
    alarm = next(
        a
        for a in alarms_pb2_grpc.AlarmServiceStub(sup.channel)
        .ListAlarms(alarms_pb2.ListAlarmsRequest(asset_ids=[light], page_size=50), timeout=10)
        .alarms
        if a.cause == "device_fault"
    )
    op = Stubs(b.address, "operator")
    inc = op.create(alarm.position.lat, alarm.position.lon, "lighting_failure", alarm_ids=[alarm.id])
    op.close()
    crew = sup.recommend(inc.id, k=1, capability=UNIT.LIGHTING)[0]

    def repaired(m) -> bool:
        return any(c.asset.id == light and c.asset.status == assets_pb2.Asset.OK for c in m.changes.changes)

    device = Recorder(
        assets_pb2_grpc.AssetServiceStub(sup.channel).WatchAssets(
            assets_pb2.WatchAssetsRequest(), timeout=180
        ),
        repaired,
    )
    assert device.ready.wait(60), "no snapshot of the assets"
    sup.assign(inc.id, crew.unit.id)
    assert device.seen.wait(150), "the crew never repaired the light"
    device.stop()
    at_retry = lights(sup.channel)
    assert at_retry[light].status == assets_pb2.Asset.OK

    # The retry reaches that light only (the quiet city's other refused lights are still unhealthy).
    still_bad = {i for i in unhealthy if at_retry[i].status in BAD}
    assert still_bad == unhealthy - {light}
    sent = retry(stub, run.run_id, include_recovered=True)
    assert list(sent.retried_asset_ids) == [light]
    seq = sent.run.sequence
    checker.read_until_true(
        stream,
        lambda: checker.runs[run.run_id].sequence > seq and checker.runs[run.run_id].state == R.ACTIVE,
        90,
    )
    now = lights(sup.channel)
    assert state(now[light]) == ("dimmed", "30")
    r = results(stub, run.run_id)[light]
    assert not r.refused and r.stage == commands_pb2.CONFIRMED
    assert checker.runs[run.run_id].refused == len(still_bad)

    # Return to normal: the light gets the state it had when the retry reached it.
    return_and_wait(stub, checker, stream, run.run_id, "over")
    stream.cancel()
    assert state(lights(sup.channel)[light]) == state(at_retry[light])
    sup.close()
