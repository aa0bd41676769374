"""app/client/changefeed.py: what the messages of a snapshot-then-changes watch mean, with real
WatchAlarms messages and a plain converter (the message's id and text), no server."""

from __future__ import annotations

import pytest

from vigie.app.client.changefeed import ChangeFeed
from vigie.app.client.streams import Resume, ResyncNeeded
from vigie.v1 import alarms_pb2


def alarm(aid: str, message: str) -> alarms_pb2.Alarm:
    return alarms_pb2.Alarm(id=aid, message=message)


def snapshot(
    seq: int, epoch: str, alarms: list[alarms_pb2.Alarm], last: bool
) -> alarms_pb2.WatchAlarmsResponse:
    return alarms_pb2.WatchAlarmsResponse(
        sequence=seq, epoch=epoch, snapshot=alarms_pb2.AlarmSnapshot(alarms=alarms, last=last)
    )


def changes(seq: int, alarms: list[alarms_pb2.Alarm]) -> alarms_pb2.WatchAlarmsResponse:
    return alarms_pb2.WatchAlarmsResponse(
        sequence=seq,
        changes=alarms_pb2.AlarmChanges(changes=[alarms_pb2.AlarmChange(alarm=a) for a in alarms]),
    )


def make() -> tuple[ChangeFeed[tuple[str, str]], list, list, Resume]:
    snaps: list[tuple[list[tuple[str, str]], int]] = []
    batches: list[tuple[list[tuple[str, str]], int]] = []
    resume = Resume()
    feed = ChangeFeed(
        resume,
        "alarm",
        "alarms",
        lambda a: (a.id, a.message),
        lambda r, s: snaps.append((r, s)),
        lambda r, s: batches.append((r, s)),
    )
    return feed, snaps, batches, resume


def test_a_snapshot_in_chunks_is_handed_over_whole_with_its_position():
    feed, snaps, _, resume = make()
    feed.feed(snapshot(7, "e1", [alarm("a", "one")], last=False))
    assert snaps == [] and resume.position == 0
    feed.feed(snapshot(7, "e1", [alarm("b", "two")], last=True))
    assert snaps == [([("a", "one"), ("b", "two")], 7)]
    assert (resume.position, resume.epoch) == (7, "e1")


def test_changes_keep_the_latest_per_id_until_the_flush():
    feed, _, batches, resume = make()
    feed.feed(changes(8, [alarm("a", "raised"), alarm("b", "raised")]))
    feed.feed(changes(9, [alarm("a", "acknowledged")]))
    assert batches == [] and resume.position == 9
    feed.flush()
    assert batches == [([("a", "acknowledged"), ("b", "raised")], 9)]
    feed.flush()  # nothing new: nothing sent
    assert len(batches) == 1


def test_a_new_call_drops_a_half_received_snapshot_and_a_snapshot_drops_older_changes():
    feed, snaps, batches, _ = make()
    feed.feed(snapshot(5, "e1", [alarm("old", "x")], last=False))
    feed.reset()
    feed.feed(changes(6, [alarm("a", "before the snapshot")]))
    feed.feed(snapshot(10, "e2", [alarm("a", "in the snapshot")], last=True))
    feed.flush()
    assert snaps == [([("a", "in the snapshot")], 10)] and batches == []


def test_resync_needed_is_raised_for_the_stream_helper():
    feed, _, _, _ = make()
    msg = alarms_pb2.WatchAlarmsResponse(sequence=3)
    msg.resync_needed.reason = "the backend restarted"
    with pytest.raises(ResyncNeeded, match="restarted"):
        feed.feed(msg)
