"""No stored content can make a streamed batch, a snapshot chunk or a page larger than a client
accepts: channels here keep gRPC's default 4 MB receive limit."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

from tests.api.test_request_bounds import unacked_alarms
from tests.conftest import open_channel
from vigie.v1 import alarms_pb2, alarms_pb2_grpc

COMMENT = "𝄞" * 1000  # at the comment's bound, 4 bytes a character: about 4 KB per alarm
DEFAULT_MAX_RECEIVE = 4 * 1024 * 1024


def snapshot_of(stub: alarms_pb2_grpc.AlarmServiceStub) -> dict[str, alarms_pb2.Alarm]:
    out: dict[str, alarms_pb2.Alarm] = {}
    stream = stub.WatchAlarms(alarms_pb2.WatchAlarmsRequest(), timeout=60)
    for msg in stream:
        assert msg.ByteSize() < DEFAULT_MAX_RECEIVE
        for a in msg.snapshot.alarms:
            out[a.id] = a
        if msg.snapshot.last:
            stream.cancel()
            assert len(out) == msg.snapshot.total_size
            return out
    raise AssertionError("the stream ended inside the snapshot")


def journal(stub: alarms_pb2_grpc.AlarmServiceStub) -> dict[str, alarms_pb2.Alarm]:
    """Every alarm of the journal, paging with the largest page size."""
    out: dict[str, alarms_pb2.Alarm] = {}
    token = ""
    while True:
        page = stub.ListAlarms(alarms_pb2.ListAlarmsRequest(page_size=5000, page_token=token), timeout=60)
        for a in page.alarms:
            assert a.id not in out, f"{a.id} listed twice"
            out[a.id] = a
        token = page.next_page_token
        if not token:
            return out


def test_many_alarms_with_comments_at_the_bound_stream_and_page(make_backend):
    b = make_backend("--seed", "4", "--alarm-rate", "300").start()
    with open_channel(b.address, user="operator") as ch:
        stub = alarms_pb2_grpc.AlarmServiceStub(ch)
        ids, sequence, epoch = unacked_alarms(ch, 1200)
        for i in range(0, len(ids), 400):
            stub.Acknowledge(
                alarms_pb2.AcknowledgeRequest(alarm_ids=ids[i : i + 400], comment=COMMENT), timeout=30
            )
        # 1,200 acknowledgements of ~4.3 KB each: one batch of them would be ~5 MB.
        stream = stub.WatchAlarms(
            alarms_pb2.WatchAlarmsRequest(after_sequence=sequence, epoch=epoch, max_batch=5000), timeout=60
        )
        acked: set[str] = set()
        batches = 0
        for msg in stream:
            assert msg.WhichOneof("event") in ("changes", "heartbeat"), msg.WhichOneof("event")
            batches += 1
            for c in msg.changes.changes:
                if c.alarm.acknowledged and c.alarm.id in ids:
                    assert c.alarm.ack_comment == COMMENT
                    acked.add(c.alarm.id)
            if acked == set(ids):
                break
        stream.cancel()
        assert batches > 1
        listed = journal(stub)
        assert all(listed[i].ack_comment == COMMENT for i in ids)
        snapshot_of(stub)


def _oversize_stored_comments(db: Path, ids: list[str], comment: str) -> None:
    """What an older backend (without request bounds) left in its store."""
    with sqlite3.connect(db) as conn:
        for table, where in (("alarms", "id"), ("alarm_log", "json_extract(data, '$.id')")):
            rows = conn.execute(
                f"SELECT rowid, data FROM {table} WHERE {where} IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
            for rowid, data in rows:
                d = json.loads(data)
                d["ack_comment"] = comment
                conn.execute(f"UPDATE {table} SET data = ? WHERE rowid = ?", (json.dumps(d), rowid))


def test_oversized_comments_of_an_old_store_are_clipped_on_read(make_backend):
    data_dir = Path(tempfile.mkdtemp(prefix="vigie-test-data-"))
    args = ("--seed", "3", "--alarm-rate", "20", "--data-dir", str(data_dir))
    b = make_backend(*args).start()
    with open_channel(b.address, user="operator") as ch:
        ids, sequence, epoch = unacked_alarms(ch, 6)
    b.stop()
    _oversize_stored_comments(data_dir / "alarms.sqlite3", ids, "c" * 4_500_000)
    b = make_backend(*args).start()
    clipped = "c" * 999 + "…"
    with open_channel(b.address, user="viewer") as ch:
        stub = alarms_pb2_grpc.AlarmServiceStub(ch)
        opened = snapshot_of(stub)
        assert {i: opened[i].ack_comment for i in ids} == dict.fromkeys(ids, clipped)
        assert {i: journal(stub)[i].ack_comment for i in ids} == dict.fromkeys(ids, clipped)
        resumed = stub.WatchAlarms(
            alarms_pb2.WatchAlarmsRequest(after_sequence=1, epoch=epoch, max_batch=5000), timeout=60
        )
        seen: dict[str, str] = {}
        for msg in resumed:
            assert msg.WhichOneof("event") == "changes", msg
            seen.update((c.alarm.id, c.alarm.ack_comment) for c in msg.changes.changes if c.alarm.id in ids)
            if msg.sequence >= sequence:
                break
        resumed.cancel()
        assert seen and set(seen.values()) == {clipped}  # (alarms raised after sequence 1)
