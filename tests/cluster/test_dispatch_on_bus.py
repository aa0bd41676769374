"""Dispatch on the bus (docs/cluster.md): one desk writes, the leader's, into VIGIE_INCIDENTS and
VIGIE_UNITS; every replica serves WatchIncidents and WatchUnits from those streams.

Two replicas, A leading. A console watches incidents and units on A. An incident created through
B (which does not lead) reaches A's watch under the same id, as the same record; an assignment
through B, sent twice with its idempotency key, dispatches the unit once. A is killed -9: while
no replica leads, a creation through B is refused UNAVAILABLE saying so; B leads within 10 s with
A's incidents under their ids, its new incident's id is above every id seen, the crew A had sent
goes on under B's crews, the assignment's key still answers without sending the unit again, and
the console resumes on B from its last sequences with no snapshot; the checker (ordered, unique,
no gaps, one epoch) passes on everything it received."""

from __future__ import annotations

import time
import uuid

import grpc

from tests.api.incident_helpers import INC, UNIT, IncidentChecker, Streets, Stubs
from tests.cluster.helpers import StreamReader, leader_pid, replica, wait_for_line
from tests.conftest import open_channel
from vigie.v1 import audit_pb2, audit_pb2_grpc, incidents_pb2

LEADER = "is now the leader"
DESK = "dispatch desk runs here"
SPEEDUP = "20"  # crews turn out within a second, drive seconds and work 12-45 s
ASSIGNED = incidents_pb2.TimelineEntry.ASSIGNED


def number(incident_id: str) -> int:
    return int(incident_id.rsplit("-", 1)[1])


class Reader(StreamReader):
    """The cluster tests' deadline-bound reading (tests/cluster/helpers.py) into an incident or
    unit checker (tests/api/incident_helpers.py)."""

    def __init__(self, checker: IncidentChecker) -> None:
        self.feed = checker.feed  # type: ignore[method-assign]


def read_until(checker: IncidentChecker, stream, cond, timeout: float) -> float:
    return Reader(checker).read_until(stream, cond, timeout)


def read_until_broken(checker: IncidentChecker, stream, timeout: float) -> grpc.StatusCode:
    return Reader(checker).read_until_broken(stream, timeout)


def snapshot_read(checker: IncidentChecker, stream) -> None:
    for msg in stream:
        checker.feed(msg)
        if msg.WhichOneof("event") == "snapshot" and msg.snapshot.last:
            return
    raise AssertionError("stream ended inside the snapshot")


def audit_of(address: str, action: str, text: str) -> list[audit_pb2.AuditRecord]:
    with open_channel(address, user="supervisor") as ch:
        resp = audit_pb2_grpc.AuditServiceStub(ch).ListAudit(
            audit_pb2.ListAuditRequest(action=action, text=text, page_size=100), timeout=10
        )
    return list(resp.records)


def refusal(call) -> tuple[grpc.StatusCode, str]:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    raise AssertionError("the call was not refused")


def dispatched_changes(units: IncidentChecker, unit_id: str) -> int:
    return sum(1 for c in units.changes if c.unit.id == unit_id and c.unit.status == UNIT.DISPATCHED)


def test_dispatch_writes_go_to_the_leader_and_its_incidents_move_with_the_lease(
    nats_server, tmp_path, capsys
):
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    city = ("--seed", "9", "--dispatch-speedup", SPEEDUP)
    a = replica(nats_server.url, a_log, *city).start()
    b = None
    try:
        wait_for_line(a_log, DESK, 30)
        b = replica(nats_server.url, b_log, *city).start()
        assert a.proc is not None and b.proc is not None and leader_pid(nats_server.url) == a.proc.pid

        # The console on A: incidents and units, snapshot then changes.
        watcher = Stubs(a.address, "viewer")
        incidents, units = IncidentChecker(), IncidentChecker("unit")
        inc_stream = watcher.incidents.WatchIncidents(incidents_pb2.WatchIncidentsRequest(), timeout=180)
        unit_stream = watcher.units.WatchUnits(incidents_pb2.WatchUnitsRequest(), timeout=180)
        snapshot_read(incidents, inc_stream)
        snapshot_read(units, unit_stream)

        # Created through B, which does not lead: A's console has it, the same record.
        sup_b = Stubs(b.address, "supervisor")
        spot = Streets(b.address).junction_near(47.33, 5.03)
        made = sup_b.create(*spot, "public_order", description="made through the follower")
        read_until(incidents, inc_stream, lambda: incidents.sequence >= made.sequence, 20)
        assert incidents.items[made.id] == made
        # Audited where the console called: B, not the leader that applied it.
        assert [r.result for r in audit_of(b.address, "incident.create", made.id)] == ["ok"]
        assert audit_of(a.address, "incident.create", made.id) == []

        # Assigned through B, twice with one key: the unit is sent once.
        deadline = time.monotonic() + 30
        while not (cands := sup_b.recommend(made.id, k=1)):
            assert time.monotonic() < deadline, "B's board never had an available police unit"
            time.sleep(0.2)  # polled under the deadline: the fleet joins as the city's vehicles arrive
        unit_id, key = cands[0].unit.id, uuid.uuid4().hex
        got = sup_b.assign(made.id, unit_id, key=key)
        again = sup_b.assign(made.id, unit_id, key=key)
        assert (again.unit.id, again.incident.id, again.override) == (unit_id, made.id, got.override)
        read_until(incidents, inc_stream, lambda: incidents.sequence >= again.incident.sequence, 20)
        read_until(units, unit_stream, lambda: units.sequence >= got.unit.sequence, 20)
        assigned = [
            e for e in incidents.items[made.id].timeline if e.kind == ASSIGNED and e.unit_id == unit_id
        ]
        assert len(assigned) == 1, assigned
        assert dispatched_changes(units, unit_id) == 1
        assert units.items[unit_id].incident_id == made.id
        # The leader's refusals come back through B with their status, the caller's role with them.
        code, details = refusal(lambda: sup_b.assign(made.id, unit_id))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "only AVAILABLE or RETURNING" in details
        op_b = Stubs(b.address, "operator")
        code, details = refusal(
            lambda: op_b.incidents.UpdateIncident(
                incidents_pb2.UpdateIncidentRequest(incident_id=made.id, status=INC.CLOSED), timeout=10
            )
        )
        assert code == grpc.StatusCode.PERMISSION_DENIED and "you are OPERATOR" in details, details
        op_b.close()

        # A dies: nothing leads for a while, then B does, with A's incidents.
        ids_at_kill = set(incidents.items)
        b_size = b_log.stat().st_size
        a.kill()
        t_kill = time.monotonic()
        assert read_until_broken(incidents, inc_stream, 30) != grpc.StatusCode.OK
        read_until_broken(units, unit_stream, 30)

        key2, refused = uuid.uuid4().hex, 0
        deadline = t_kill + 30
        while True:
            try:
                late = sup_b.incidents.CreateIncident(
                    incidents_pb2.CreateIncidentRequest(
                        idempotency_key=key2,
                        type="road_obstruction",
                        position={"lat": spot[0], "lon": spot[1]},
                    ),
                    timeout=20,
                )
                break
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE, (exc.code(), exc.details())
                assert "no leader replica" in (exc.details() or ""), exc.details()
                refused += 1
            assert time.monotonic() < deadline, "no replica took the writes over in 30 s"
            time.sleep(0.2)  # polled under the deadline: the election has no event to wait on
        t_created = time.monotonic()
        t_desk = wait_for_line(b_log, DESK, 5, after=b_size)
        assert leader_pid(nats_server.url) == b.proc.pid
        assert refused > 0, "a creation was accepted while no replica led"
        assert t_desk - t_kill < 10, f"B's desk ran {t_desk - t_kill:.1f} s after the kill"
        assert number(late.id) > max(number(i) for i in ids_at_kill), (late.id, sorted(ids_at_kill))

        # The console resumes on B from its last sequences: changes, never a snapshot.
        watcher_b = Stubs(b.address, "viewer")
        inc_b = watcher_b.incidents.WatchIncidents(
            incidents_pb2.WatchIncidentsRequest(after_sequence=incidents.sequence, epoch=incidents.epoch),
            timeout=120,
        )
        unit_b = watcher_b.units.WatchUnits(
            incidents_pb2.WatchUnitsRequest(after_sequence=units.sequence, epoch=units.epoch), timeout=120
        )
        resumed_at = units.sequence  # B's crews' changes come after it
        for stream, checker in ((inc_b, incidents), (unit_b, units)):
            first = next(stream)
            assert first.WhichOneof("event") in ("changes", "heartbeat"), first.WhichOneof("event")
            checker.feed(first)
        read_until(incidents, inc_b, lambda: late.id in incidents.items, 20)
        assert incidents.items[late.id] == late
        listed = {
            i.id
            for i in sup_b.incidents.ListIncidents(incidents_pb2.ListIncidentsRequest(), timeout=10).incidents
        }
        assert ids_at_kill <= listed, ids_at_kill - listed

        # B's crews carry on A's: the unit's next step (arrival, or the work done) is B's.
        def crew_moved_on_b() -> bool:
            return any(
                c.sequence > resumed_at and c.unit.id == unit_id and c.unit.updated_by == "simulation"
                for c in units.changes
            )

        read_until(units, unit_b, crew_moved_on_b, 90)
        # The assignment's key still answers, through the new leader, without sending it again.
        third = sup_b.assign(made.id, unit_id, key=key)
        assert third.unit.id == unit_id and third.incident.id == made.id
        assert dispatched_changes(units, unit_id) == 1
        assert len(incidents.changes) > 0 and len(units.changes) > 0
        with capsys.disabled():
            print(
                f"\n[dispatch] B's desk ran {t_desk - t_kill:.1f} s after A's kill -9; a creation through B"
                f" was refused {refused} times, then made {t_created - t_kill:.1f} s after the kill;"
                f" {len(incidents.changes)} incident and {len(units.changes)} unit changes checked"
            )
        sup_b.close()
        watcher.close()
        watcher_b.close()
    finally:
        a.kill()
        if b is not None:
            b.kill()
