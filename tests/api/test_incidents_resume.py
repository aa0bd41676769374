"""WatchIncidents and WatchUnits keep the resume contract of WatchAssets/WatchAlarms: the stream
checker (tests/api/test_alarms_service.py) finds no gap and no duplicate across a reconnect and a
clean restart (same epoch, same sequences); after a kill -9 the epoch changes and a client asking
to resume is told to resync."""

from __future__ import annotations

import tempfile

import pytest

from tests.api.incident_helpers import IncidentChecker, Stubs
from vigie.v1 import incidents_pb2


def watch_incidents(stubs: Stubs, after: int = 0, epoch: str = "", timeout: float = 60):
    req = incidents_pb2.WatchIncidentsRequest(after_sequence=after, epoch=epoch)
    return stubs.incidents.WatchIncidents(req, timeout=timeout)


def watch_units(stubs: Stubs, after: int = 0, epoch: str = "", timeout: float = 60):
    return stubs.units.WatchUnits(
        incidents_pb2.WatchUnitsRequest(after_sequence=after, epoch=epoch), timeout=timeout
    )


@pytest.mark.parametrize(("watch", "field"), [(watch_incidents, "incident"), (watch_units, "unit")])
def test_no_gap_or_duplicate_across_a_reconnect_and_a_clean_restart(make_backend, watch, field):
    data = tempfile.mkdtemp(prefix="vigie-incidents-")
    # ~1.2 incidents a second, crews 50x faster: incidents and units change all the time.
    b = make_backend(
        "--seed", "6", "--incident-rate", "100000", "--dispatch-speedup", "50", "--data-dir", data
    ).start()
    c = IncidentChecker(field)
    stubs = Stubs(b.address, "viewer")
    stream = watch(stubs)
    c.read_snapshot(stream)
    c.read_until(stream, c.sequence + 20)
    stream.cancel()
    # Reconnect: resume right after the last change seen.
    stream = watch(stubs, c.sequence, c.epoch)
    c.read_until(stream, c.sequence + 20)
    stream.cancel()
    stubs.close()
    last, epoch = c.sequence, c.epoch
    b.stop()  # SIGTERM: a clean shutdown keeps the epoch and the history
    b.start()
    stubs = Stubs(b.address, "viewer")
    stream = watch(stubs, last, epoch)
    c.read_until(stream, last + 20)  # fails on a resync or any gap
    stream.cancel()
    assert c.epoch == epoch
    seqs = [x.sequence for x in c.changes]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # every change once, in order
    # The state resumed equals a fresh snapshot's for what both know (a fresh reader agrees).
    fresh = IncidentChecker(field)
    s2 = watch(stubs)
    fresh.read_snapshot(s2)
    s2.cancel()
    assert fresh.epoch == epoch and fresh.sequence >= c.sequence
    stubs.close()


def test_a_kill_changes_the_epoch_and_resuming_asks_for_a_resync(make_backend):
    data = tempfile.mkdtemp(prefix="vigie-incidents-")
    b = make_backend(
        "--seed", "6", "--incident-rate", "100000", "--dispatch-speedup", "50", "--data-dir", data
    ).start()
    c = IncidentChecker()
    stubs = Stubs(b.address, "viewer")
    stream = watch_incidents(stubs)
    c.read_snapshot(stream)
    c.read_until(stream, c.sequence + 10)
    stream.cancel()
    stubs.close()
    b.kill()  # kill -9: the last changes may not be on disk
    b.start()
    stubs = Stubs(b.address, "viewer")
    msg = next(watch_incidents(stubs, c.sequence, c.epoch, timeout=10))
    assert msg.WhichOneof("event") == "resync_needed" and "epoch" in msg.resync_needed.reason
    assert msg.epoch != c.epoch
    units = next(watch_units(stubs, 1, c.epoch, timeout=10))
    assert units.WhichOneof("event") == "resync_needed" and units.epoch == msg.epoch
    # The incidents written before the kill are still there.
    listed = stubs.incidents.ListIncidents(incidents_pb2.ListIncidentsRequest(page_size=1000), timeout=10)
    assert listed.total_size >= 1
    stubs.close()
