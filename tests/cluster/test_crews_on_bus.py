"""Dispatch's simulated side on the bus: the crews find the simulator behind the command relay
and drive (an assigned unit reaches the scene), and the city's own incidents are opened by the
leader only: a replica that does not lead opens none, and starts to once it leads."""

from __future__ import annotations

import time

from tests.api.incident_helpers import UNIT, Streets, Stubs
from tests.api.test_incidents_simulation import wait_unit
from tests.cluster.helpers import leader_pid, replica, wait_for_line
from tests.conftest import open_channel
from vigie.v1 import incidents_pb2, incidents_pb2_grpc

LEADER = "is now the leader"
SPEEDUP = "40"


def open_incidents(address: str) -> int:
    stub = incidents_pb2_grpc.IncidentServiceStub(open_channel(address, user="viewer"))
    return len(stub.ListIncidents(incidents_pb2.ListIncidentsRequest(), timeout=10).incidents)


def test_crews_drive_on_the_leader_and_the_citys_incidents_follow_the_lease(nats_server, tmp_path, capsys):
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    city = ("--seed", "9", "--dispatch-speedup", SPEEDUP)
    a = replica(nats_server.url, a_log, *city, "--incident-rate", "0").start()
    b = None
    try:
        wait_for_line(a_log, LEADER, 30)
        # B asks for a busy city (its backlog would be opened at start): as it does not lead, none.
        b = replica(nats_server.url, b_log, *city, "--incident-rate", "5000").start()
        assert a.proc is not None and leader_pid(nats_server.url) == a.proc.pid
        assert open_incidents(b.address) == 0, "a replica that does not lead opened the city's incidents"

        # On the leader, behind the command relay, an assigned crew drives to the scene.
        sup = Stubs(a.address, "supervisor")
        spot = Streets(a.address).junction_near(47.33, 5.03)
        inc = sup.create(*spot, "road_accident")
        cand = sup.recommend(inc.id, k=1)[0]
        got = sup.assign(inc.id, cand.unit.id)
        wait_unit(sup, cand.unit.id, UNIT.ON_SCENE, timeout=60 + got.route.eta.seconds / float(SPEEDUP))
        sup.close()

        # The lease moves to B: its crews and its city's incidents start there.
        a.kill()
        t_kill = time.monotonic()
        wait_for_line(b_log, LEADER, 30)
        deadline = t_kill + 30
        while open_incidents(b.address) == 0:
            assert time.monotonic() < deadline, "the new leader opened no incident of the city in 30 s"
            time.sleep(0.2)  # polled under the deadline: ListIncidents has no event to wait on
        with capsys.disabled():
            print(
                f"\n[crews] the new leader opened the city's incidents {time.monotonic() - t_kill:.1f} s after the kill"
            )
    finally:
        a.kill()
        if b is not None:
            b.kill()
