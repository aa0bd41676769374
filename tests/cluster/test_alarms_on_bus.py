"""Alarms on the bus (docs/cluster.md): one alarm engine, on the leader, publishing into the
stream VIGIE_ALARMS; every replica serves WatchAlarms from that stream, numbered by its sequence.

1. A console's WatchAlarms on the leader A, which is killed -9 while alarms change (--alarm-rate):
   the console resumes on B with its last sequence and epoch and gets changes, never a snapshot or
   ResyncNeeded; the checker (ordered, unique, no gaps, one epoch, an id never names two alarms,
   no condition open twice at once) passes on everything it received; B takes over the engine
   within 10 s (new alarms flow) and carries on the alarms A had opened, under their ids.
2. An acknowledgement given to the replica that does not lead is applied once, by the leader's
   engine, and both replicas' WatchAlarms show that one change at the same sequence; while no
   replica leads, an acknowledgement is refused (UNAVAILABLE, no leader), then works again once
   the other replica leads. Shelve, unshelve and an acknowledgement that closes an alarm, through
   the follower, reach the leader as well."""

from __future__ import annotations

import time

import grpc
from google.protobuf.duration_pb2 import Duration

from tests.cluster.helpers import (
    AlarmChecker,
    alarm_sequence_of,
    alarms_stub,
    leader_pid,
    replica,
    stream_last_seq,
    wait_for_line,
    watch_alarms,
)
from vigie.v1 import alarms_pb2

LEADER = "is now the leader"
ENGINE = "alarm engine runs here"
RATE = "20"  # synthetic alarms a second, each clearing after 5-60 s


def test_alarm_watch_resumes_on_the_other_replica_and_the_engine_moves_without_raising_twice(
    nats_server, tmp_path, capsys
):
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    a = replica(nats_server.url, a_log, "--alarm-rate", RATE).start()
    b = None
    try:
        wait_for_line(a_log, ENGINE, 30)
        b = replica(nats_server.url, b_log, "--alarm-rate", RATE).start()
        b_joined = alarm_sequence_of(b.address)  # B's alarm history begins at most here
        checker = AlarmChecker()
        stream = watch_alarms(alarms_stub(a.address))
        checker.read_until(stream, lambda: checker.snapshots == 1 and not checker.in_snapshot, 30)
        checker.read_until(stream, lambda: checker.sequence > b_joined and checker.changes >= 200, 60)

        assert a.proc is not None and leader_pid(nats_server.url) == a.proc.pid, "A no longer leads"
        open_at_kill = {i for i, al in checker.open.items() if al.active}
        known_at_kill = set(checker.identity)
        b_size = b_log.stat().st_size
        a.kill()  # -9, while alarms are raised and cleared
        t_kill, wall_kill = time.monotonic(), time.time()
        code = checker.read_until_broken(stream, 30)
        assert code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.INTERNAL), (
            code
        )
        last_of_a = stream_last_seq(nats_server.url, "VIGIE_ALARMS")
        assert checker.sequence <= last_of_a

        # The console moves to B with its last sequence and epoch: changes, never a snapshot.
        resumed = watch_alarms(alarms_stub(b.address), after=checker.sequence, epoch=checker.epoch)
        first = next(resumed)
        t_resumed = time.monotonic()
        assert first.WhichOneof("event") in ("changes", "heartbeat"), first.WhichOneof("event")
        checker.feed(first)

        def new_alarm() -> bool:  # raised by B's engine: an id never seen, raised after the kill
            return any(
                i not in known_at_kill and al.raised_at.ToNanoseconds() / 1e9 > wall_kill
                for i, al in checker.open.items()
            )

        t_new = checker.read_until(resumed, new_alarm, 30)
        wait_for_line(b_log, ENGINE, 1, after=b_size)  # B took the engine over after the kill
        failover = t_new - t_kill
        assert failover < 10, f"no new alarm {failover:.1f} s after the leader died"

        # B carries on A's alarms under their ids (it clears them) instead of raising them again.
        def continued() -> bool:
            return any(seq > last_of_a for i in open_at_kill for seq, _ in checker.history.get(i, ()))

        checker.read_until(resumed, continued, 70)
        checker.read_until(resumed, lambda: checker.sequence >= last_of_a + 300, 60)
        resumed.cancel()
        assert checker.snapshots == 1
        new_ids = sorted(i for i in checker.identity if i not in known_at_kill)
        assert new_ids and min(new_ids) > max(known_at_kill), "B's engine reused an alarm id"
        carried = sum(any(seq > last_of_a for seq, _ in checker.history[i]) for i in open_at_kill)
        with capsys.disabled():
            print(
                f"\n[alarms on bus] console resumed on B {t_resumed - t_kill:.2f} s after kill -9;"
                f" B's first new alarm {failover:.2f} s after it; {checker.changes:,} changes checked;"
                f" B changed {carried} of the {len(open_at_kill)} alarms active at the kill, under their ids"
            )
    finally:
        a.kill()
        if b is not None:
            b.kill()


def acknowledge(address: str, alarm_id: str, comment: str) -> alarms_pb2.AcknowledgeResponse:
    return alarms_stub(address, user="operator").Acknowledge(
        alarms_pb2.AcknowledgeRequest(alarm_ids=[alarm_id], comment=comment), timeout=30
    )


def flips(checker: AlarmChecker, alarm_id: str) -> list[tuple[int, alarms_pb2.Alarm]]:
    """The records of `alarm_id` where it went from unacknowledged to acknowledged."""
    out, before = [], False
    for seq, al in checker.history.get(alarm_id, ()):
        if al.acknowledged and not before:
            out.append((seq, al))
        before = al.acknowledged
    return out


def an_unacked(checker: AlarmChecker, exclude: set[str]) -> str:
    return next(
        i
        for i, al in sorted(checker.open.items())
        if al.state == alarms_pb2.Alarm.UNACK_ACTIVE and i not in exclude
    )


def test_an_acknowledge_given_to_the_follower_is_applied_once_by_the_leader(nats_server, tmp_path, capsys):
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    a = replica(nats_server.url, a_log, "--alarm-rate", "5").start()
    b = None
    try:
        wait_for_line(a_log, ENGINE, 30)
        b = replica(nats_server.url, b_log, "--alarm-rate", "5").start()
        on_a, on_b = AlarmChecker(), AlarmChecker()
        sa, sb = watch_alarms(alarms_stub(a.address)), watch_alarms(alarms_stub(b.address))
        on_a.read_until(sa, lambda: on_a.snapshots == 1 and not on_a.in_snapshot, 30)
        on_b.read_until(sb, lambda: on_b.snapshots == 1 and not on_b.in_snapshot, 30)
        on_b.read_until(
            sb, lambda: sum(al.state == alarms_pb2.Alarm.UNACK_ACTIVE for al in on_b.open.values()) >= 3, 30
        )
        assert on_a.epoch == on_b.epoch  # one alarm history for the cluster

        target = an_unacked(on_b, set())
        comment = "seen from B"
        (done,) = acknowledge(b.address, target, comment).alarms
        assert done.id == target and done.acknowledged and done.acknowledged_by == "operator"

        def acked(c: AlarmChecker) -> bool:
            return bool(flips(c, target))

        on_b.read_until(sb, lambda: acked(on_b), 15)
        on_a.read_until(sa, lambda: acked(on_a), 15)
        on_a.read_until(sa, lambda: on_a.sequence >= on_b.sequence, 15)
        on_b.read_until(sb, lambda: on_b.sequence >= on_a.sequence, 15)
        ((seq_b, rec_b),) = flips(on_b, target)  # once
        ((seq_a, rec_a),) = flips(on_a, target)
        assert seq_a == seq_b and rec_a == rec_b  # the same change, at the same sequence, on both
        assert rec_b.ack_comment == comment and rec_b.acknowledged_by == "operator"
        if rec_b.state != alarms_pb2.Alarm.NORMAL:  # still open: the answer is the view's record
            assert done.sequence == seq_b

        # Shelve and unshelve through B: the leader's engine applies them, A's consoles see them.
        ops = alarms_stub(b.address, user="operator")
        shelved = an_unacked(on_b, {target})
        (s,) = ops.Shelve(
            alarms_pb2.ShelveRequest(alarm_ids=[shelved], reason="noisy", duration=Duration(seconds=600)),
            timeout=30,
        ).alarms
        assert s.state == alarms_pb2.Alarm.SHELVED and s.shelved_by == "operator"
        on_a.read_until(sa, lambda: on_a.open[shelved].state == alarms_pb2.Alarm.SHELVED, 15)
        (u,) = ops.Unshelve(alarms_pb2.UnshelveRequest(alarm_ids=[shelved]), timeout=30).alarms
        assert u.state != alarms_pb2.Alarm.SHELVED and not u.shelved_by
        on_a.read_until(sa, lambda: on_a.open[shelved].state != alarms_pb2.Alarm.SHELVED, 15)

        # An acknowledgement that closes an alarm (returned to normal): answered from B's journal.
        rtn = alarms_pb2.Alarm.RTN_UNACK
        on_b.read_until(sb, lambda: any(al.state == rtn for al in on_b.open.values()), 70)
        returned = next(i for i, al in sorted(on_b.open.items()) if al.state == rtn)
        (closed,) = acknowledge(b.address, returned, "closed from B").alarms
        assert closed.id == returned and closed.state == alarms_pb2.Alarm.NORMAL
        on_a.read_until(sa, lambda: returned not in on_a.open, 15)
        sa.cancel()

        # The leader dies: no replica can apply it, and B says so; then B leads and it works.
        a.kill()
        t_kill = time.monotonic()
        other = an_unacked(on_b, {target, shelved})
        refused = 0
        while True:
            try:
                acknowledge(b.address, other, "after the failover")
                break
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
                assert "no leader replica at the moment" in (exc.details() or ""), exc.details()
                refused += 1
                assert time.monotonic() - t_kill < 30, "no replica applied the acknowledgement"
                time.sleep(0.2)  # retried under the deadline, as a console would
        t_done = time.monotonic()
        assert refused >= 1  # the first try came before any replica could hold the lease
        on_b.read_until(sb, lambda: bool(flips(on_b, other)), 15)
        sb.cancel()
        assert len(flips(on_b, other)) == 1
        assert t_done - t_kill < 10, f"acknowledgements applied again only {t_done - t_kill:.1f} s after"
        with capsys.disabled():
            print(
                f"\n[alarms on bus] acknowledged through B at sequence {seq_b} on both replicas; after the"
                f" leader's kill -9, {refused} refused (no leader), applied {t_done - t_kill:.1f} s after"
            )
    finally:
        a.kill()
        if b is not None:
            b.kill()
