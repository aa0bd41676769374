"""Health emergency on a real backend with people badging all day: the closed schools refuse
ordinary badges ("not permitted at this time") and let in the carers an exception names, both
seen live on WatchAccessEvents and in the journal; the refusals' alarms are suppressed by design
with the mode as reason; exceptions are SUPERVISOR-only and audited."""

from __future__ import annotations

import tempfile
import time
import uuid

import grpc
import pytest

from tests.conftest import open_channel
from vigie.v1 import alarms_pb2, alarms_pb2_grpc, audit_pb2, audit_pb2_grpc, modes_pb2, modes_pb2_grpc

CLOSED = ["École élémentaire", "École maternelle", "Crèche"]


def test_closed_buildings_refuse_ordinary_badges_and_let_exempt_people_in_live(make_backend):
    b = make_backend(
        "--seed", "4", "--quiet-city", "--lights", "200", "--vehicles", "0", "--badge-rate", "40"
    )
    b = b.start()
    with open_channel(b.address, user="supervisor") as ch:
        modes = modes_pb2_grpc.ModeServiceStub(ch)
        cards = modes_pb2_grpc.CardholderServiceStub(ch)
        people = cards.ListCardholders(modes_pb2.ListCardholdersRequest(page_size=5000), timeout=10)
        assert people.total_size == 400 and "carers" in people.groups
        exc = modes_pb2.AccessException(group="carers", building_types=CLOSED, note="home visits")
        exc.valid_from.FromSeconds(int(time.time()) - 60)
        exc.valid_until.FromSeconds(int(time.time()) + 3600)
        stored = cards.SetException(
            modes_pb2.SetExceptionRequest(exception=exc, reason="carers keep working"), timeout=10
        )
        assert stored.exception_id and stored.created_by == "supervisor"

        run = modes.Activate(
            modes_pb2.ActivateRequest(
                idempotency_key=uuid.uuid4().hex,
                mode_id="health_emergency",
                scope=modes_pb2.ModeScope(whole_city=True),
                reason="epidemic",
                confirmed=True,
            ),
            timeout=30,
        ).run
        # Wait for the activation to end (WatchModes), then list the doors it locked, confirmed
        # from their own state.
        watch = modes.WatchModes(modes_pb2.WatchModesRequest(), timeout=90)
        for msg in watch:
            runs = [c.run for c in msg.changes.changes] + list(msg.snapshot.runs)
            if any(r.run_id == run.run_id and r.state != modes_pb2.ModeRun.ACTIVATING for r in runs):
                break
        watch.cancel()
        t_done = time.time()
        got = modes.GetRun(modes_pb2.GetRunRequest(run_id=run.run_id, page_size=5000), timeout=10)
        locked = {
            r.asset_id for r in got.results if r.step == "close-buildings" and r.stage == 3
        }  # CONFIRMED
        assert locked

        seen_exempt = seen_refused = None
        stream = cards.WatchAccessEvents(modes_pb2.WatchAccessEventsRequest(), timeout=120)
        last = 0
        for msg in stream:
            if msg.WhichOneof("event") != "events":
                continue
            for e in msg.events.events:
                assert e.sequence == last + 1 or last == 0, (e.sequence, last)
                last = e.sequence
                if e.time.ToNanoseconds() / 1e9 < t_done or e.asset_id not in locked:
                    continue
                if e.group == "carers":
                    assert e.granted and e.reason.startswith("exempt: group carers (home visits)"), e
                    assert e.exception_id == stored.exception_id and e.run_id == run.run_id
                    seen_exempt = e
                elif e.person_id:
                    assert not e.granted and e.reason == "not permitted at this time", e
                    seen_refused = e
            if seen_exempt and seen_refused:
                break
        stream.cancel()
        assert seen_exempt and seen_refused

        # Both are in the journal too.
        journal = cards.ListAccessEvents(modes_pb2.ListAccessEventsRequest(page_size=5000), timeout=10)
        sequences = {e.sequence for e in journal.events}
        assert {seen_exempt.sequence, seen_refused.sequence} <= sequences

        # The refusals' alarms at the closed doors are suppressed by design, with the mode named.
        # (Repeated refusals raise them: follow the alarms until one is raised at a locked door.)
        alarms = alarms_pb2_grpc.AlarmServiceStub(ch)
        refused = None
        watch_alarms = alarms.WatchAlarms(alarms_pb2.WatchAlarmsRequest(), timeout=90)
        for msg in watch_alarms:
            found = list(msg.snapshot.alarms) + [c.alarm for c in msg.changes.changes]
            refused = next((a for a in found if a.cause == "access_refused" and a.asset_id in locked), None)
            if refused is not None:
                break
        watch_alarms.cancel()
        assert refused is not None and refused.state == alarms_pb2.Alarm.SUPPRESSED, refused
        assert refused.suppression_reason == f"by design: city mode Health emergency ({run.run_id})"
        listed = alarms.ListAlarms(
            alarms_pb2.ListAlarmsRequest(states=[alarms_pb2.Alarm.SUPPRESSED], page_size=5000), timeout=10
        )
        assert refused.id in {a.id for a in listed.alarms}  # the SUPPRESSED filter shows them

        cards.RemoveException(
            modes_pb2.RemoveExceptionRequest(exception_id=stored.exception_id, reason="done"), timeout=10
        )
        trail = audit_pb2_grpc.AuditServiceStub(ch).ListAudit(
            audit_pb2.ListAuditRequest(action="access.exception", page_size=10), timeout=10
        )
        assert [(r.action, r.result) for r in trail.records] == [
            ("access.exception_remove", "ok"),
            ("access.exception_set", "ok"),
        ]
    with open_channel(b.address, user="operator") as ch:
        with pytest.raises(grpc.RpcError) as err:
            modes_pb2_grpc.CardholderServiceStub(ch).SetException(
                modes_pb2.SetExceptionRequest(exception=exc, reason="x"), timeout=10
            )
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def read_events(stream, until: int, last: int) -> tuple[int, str]:
    """Follow access events to sequence `until`, asserting each is the next one; (last, epoch)."""
    epoch = ""
    for msg in stream:
        kind = msg.WhichOneof("event")
        assert kind != "resync_needed", msg.resync_needed.reason
        epoch = epoch or msg.epoch
        assert msg.epoch == epoch
        if kind == "events":
            for e in msg.events.events:
                assert last == 0 or e.sequence == last + 1, (e.sequence, last)
                last = e.sequence
        if last >= until:
            return last, epoch
    raise AssertionError("stream ended early")


def test_access_events_resume_across_reconnect_and_restart(make_backend):
    data = tempfile.mkdtemp(prefix="vigie-access-data-")
    args = ("--seed", "4", "--quiet-city", "--lights", "0", "--vehicles", "0", "--badge-rate", "30")
    b = make_backend(*args, "--data-dir", data).start()
    with open_channel(b.address, user="operator") as ch:
        cards = modes_pb2_grpc.CardholderServiceStub(ch)
        stream = cards.WatchAccessEvents(modes_pb2.WatchAccessEventsRequest(), timeout=60)
        last, epoch = read_events(stream, 20, 0)
        stream.cancel()
        resumed = cards.WatchAccessEvents(
            modes_pb2.WatchAccessEventsRequest(after_sequence=last, epoch=epoch), timeout=60
        )
        last, again = read_events(resumed, last + 20, last)  # no gap, no repeat
        resumed.cancel()
        assert again == epoch
    b.stop()
    b.start()
    with open_channel(b.address, user="operator") as ch:
        cards = modes_pb2_grpc.CardholderServiceStub(ch)
        resumed = cards.WatchAccessEvents(
            modes_pb2.WatchAccessEventsRequest(after_sequence=last, epoch=epoch), timeout=60
        )
        _, after_restart = read_events(resumed, last + 20, last)
        resumed.cancel()
        assert after_restart == epoch
