"""The Health emergency city mode turns transit signal priority on where buses and shuttles run:
before it, no junction of a line has TSP; once the mode is active, the junctions of the lines
(tagged "bus_line") have it, and buses and shuttles check in and are granted priority there.
A real backend; transit 50 times faster than real time."""

from __future__ import annotations

import time
import uuid

from tests.conftest import open_channel
from vigie.v1 import modes_pb2, modes_pb2_grpc, transit_pb2, transit_pb2_grpc


def test_health_emergency_turns_tsp_on_for_bus_lines_and_shuttles(make_backend):
    b = make_backend("--seed", "5", "--lights", "300", "--transit-speed", "50").start()
    ch = open_channel(b.address, "supervisor")
    transit = transit_pb2_grpc.TransitServiceStub(ch)
    junctions = transit.GetTspConfig(transit_pb2.GetTspConfigRequest(), timeout=10).junctions
    assert junctions and not any(j.enabled for j in junctions)
    shuttle_junctions = {
        j
        for line in transit.ListLines(
            transit_pb2.ListLinesRequest(modes=[transit_pb2.SHUTTLE]), timeout=10
        ).lines
        for j in line.junction_ids
    }
    assert shuttle_junctions
    modes = modes_pb2_grpc.ModeServiceStub(ch)
    run = modes.Activate(
        modes_pb2.ActivateRequest(
            idempotency_key=uuid.uuid4().hex,
            mode_id="health_emergency",
            scope=modes_pb2.ModeScope(whole_city=True),
            reason="exercise",
            confirmed=True,
        ),
        timeout=30,
    ).run
    deadline = time.monotonic() + 120
    enabled: list[transit_pb2.JunctionTsp] = []
    while time.monotonic() < deadline:
        state = modes.GetRun(modes_pb2.GetRunRequest(run_id=run.run_id), timeout=10).run.state
        # The junctions read their signal's new state at the simulation's next tick (1 s).
        enabled = [
            j
            for j in transit.GetTspConfig(transit_pb2.GetTspConfigRequest(), timeout=10).junctions
            if j.enabled
        ]
        if state in (modes_pb2.ModeRun.ACTIVE, modes_pb2.ModeRun.PARTIAL) and len(enabled) >= 0.8 * len(
            junctions
        ):
            break
        time.sleep(0.5)
    # Signals may refuse a command (3 %) or be in fault: nearly all of them have TSP now.
    assert len(enabled) >= 0.8 * len(junctions)
    assert shuttle_junctions & {j.junction_id for j in enabled}
    # Buses and shuttles now check in at those junctions, and some are granted priority.
    classes: set[int] = set()
    granted = False
    stream = transit.WatchPriority(transit_pb2.WatchPriorityRequest(), timeout=120)
    for msg in stream:
        for e in msg.events.events:
            if e.kind == transit_pb2.PriorityEvent.CHECK_IN:
                classes.add(e.vehicle_class)
            granted = granted or e.kind == transit_pb2.PriorityEvent.GRANTED
        if granted and {transit_pb2.CLASS_BUS, transit_pb2.CLASS_SHUTTLE} <= classes:
            break
    stream.cancel()
    ch.close()
