"""City modes on the bus (docs/cluster.md): one mode engine, on the leader, publishing its runs
and their recorded device states into JetStream; every replica serves WatchModes from the run
stream, numbered by its sequence.

1. A mode activated through the follower B is applied by the leader A, and consoles on both see
   it active (the same run, at the same sequence); its commands act once (each light the mode
   dims changes once, each device's result one attempt); the audit record is B's. A is killed -9
   while the mode is active: until B leads, B lists the run active and refuses to stop it
   (UNAVAILABLE, no leader); B leads within 10 s with the run active under its id, and Return to
   normal through B gives every light the state the test read before the mode. The
   WatchModes client of A resumes on B with its last sequence and epoch, never a snapshot, and
   the checker (ordered, unique, no gaps, one epoch) passes on all it received.
2. Access decisions made on the leader (its simulated badges) reach a WatchAccessEvents client on
   the follower, numbered by the decisions' stream, the same on both replicas."""

from __future__ import annotations

import time
import uuid

import grpc

from tests.api.test_modes import ModeStreamChecker, lights, modes_dir, results, state, watch
from tests.cluster.helpers import AssetChecker, replica, revision_of, wait_for_line
from tests.cluster.helpers import watch as watch_assets
from tests.conftest import open_channel
from vigie.v1 import (
    assets_pb2,
    assets_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    commands_pb2,
    modes_pb2,
    modes_pb2_grpc,
)

R = modes_pb2.ModeRun
MODES = "city modes run here"
QUIET = ("--lights", "200", "--vehicles", "0", "--incident-rate", "0", "--command-failure-rate", "0")
UNHEALTHY = (assets_pb2.Asset.OFFLINE, assets_pb2.Asset.FAULT, assets_pb2.Asset.MAINTENANCE)


class ResumeChecker(ModeStreamChecker):
    """The modes' stream checker, counting snapshot messages (a resume must bring none)."""

    def __init__(self) -> None:
        super().__init__()
        self.snapshot_messages = 0

    def feed(self, msg: modes_pb2.WatchModesResponse) -> None:  # type: ignore[override]
        if msg.WhichOneof("event") == "snapshot":
            self.snapshot_messages += 1
        super().feed(msg)


class ChangeCounter(AssetChecker):
    """The asset stream checker, counting each asset's changes after its snapshot."""

    def __init__(self) -> None:
        super().__init__()
        self.per_asset: dict[str, int] = {}

    def feed(self, msg: assets_pb2.WatchAssetsResponse) -> None:
        super().feed(msg)
        if msg.WhichOneof("event") == "changes":
            for c in msg.changes.changes:
                self.per_asset[c.asset.id] = self.per_asset.get(c.asset.id, 0) + 1


def modes_stub(address: str) -> modes_pb2_grpc.ModeServiceStub:
    return modes_pb2_grpc.ModeServiceStub(open_channel(address, user="supervisor"))


def audit_of(address: str, action: str, run_id: str) -> list[audit_pb2.AuditRecord]:
    stub = audit_pb2_grpc.AuditServiceStub(open_channel(address, user="supervisor"))
    resp = stub.ListAudit(audit_pb2.ListAuditRequest(action=action, target=run_id, page_size=100), timeout=10)
    return list(resp.records)


def test_a_mode_started_through_the_follower_is_active_everywhere_and_survives_the_leader(
    nats_server, tmp_path, capsys
):
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    args = (*QUIET, "--badge-rate", "0", "--modes", modes_dir())
    a = replica(nats_server.url, a_log, *args).start()
    b = None
    try:
        wait_for_line(a_log, MODES, 30)
        b = replica(nats_server.url, b_log, *args).start()
        with open_channel(a.address, user="supervisor") as ch:
            before = lights(ch)
        assert len(before) == 200
        healthy = {i for i, x in before.items() if x.status not in UNHEALTHY}
        to_dim = {i for i in healthy if state(before[i]) != ("dimmed", "30")}
        assert to_dim and any(state(before[i]) != ("on", "100") for i in to_dim), "lights dimmed before"

        on_a, on_b = ResumeChecker(), ResumeChecker()
        stub_a, stub_b = modes_stub(a.address), modes_stub(b.address)
        wa, wb = watch(stub_a, timeout=300), watch(stub_b, timeout=300)
        on_a.read_snapshot(wa)
        on_b.read_snapshot(wb)
        assert on_a.epoch == on_b.epoch  # one run history for the cluster
        counter = ChangeCounter()
        assets = watch_assets(assets_pb2_grpc.AssetServiceStub(open_channel(b.address, user="viewer")))
        counter.read_until(assets, lambda: counter.snapshots == 1 and not counter.in_snapshot, 30)

        # Activated through B, the follower: the leader's engine runs it, both consoles see it.
        key = uuid.uuid4().hex
        request = modes_pb2.ActivateRequest(
            idempotency_key=key,
            mode_id="dim_all",
            scope=modes_pb2.ModeScope(whole_city=True),
            reason="exercise on the bus",
            confirmed=True,
        )
        run_id = stub_b.Activate(request, timeout=30).run.run_id

        def active(c: ResumeChecker) -> bool:
            return run_id in c.runs and c.runs[run_id].state == R.ACTIVE

        on_b.read_until_true(wb, lambda: active(on_b), 90)
        on_a.read_until_true(wa, lambda: active(on_a), 30)
        assert on_a.runs[run_id] == on_b.runs[run_id]  # the same change, at the same sequence
        assert on_a.runs[run_id].activated_by == "supervisor"
        again = stub_a.Activate(request, timeout=30)  # the same key through the other replica
        assert again.replayed and again.run.run_id == run_id

        # Its commands act once: each light to dim changed once, each result one attempt. The
        # lights' changes reach B on the asset stream, the run's state on the modes stream: the
        # two are not ordered, so the run can be ACTIVE on B before B has the last light's change.
        counter.read_until(assets, lambda: to_dim <= counter.per_asset.keys(), 30)
        revision = revision_of(b.address)  # then everything B had by now: no extra, no second change
        counter.read_until(assets, lambda: counter.revision >= revision, 30)
        dimmed = {i for i, n in counter.per_asset.items() if i in before}
        assert dimmed == to_dim, (sorted(dimmed ^ to_dim)[:10], len(dimmed), len(to_dim))
        assert all(counter.per_asset[i] == 1 for i in to_dim), {i: counter.per_asset[i] for i in to_dim}
        res_b, res_a = results(stub_b, run_id), results(stub_a, run_id)
        assert res_a == res_b and set(res_b) == set(before)
        assert all(res_b[i].stage == commands_pb2.CONFIRMED and res_b[i].attempts == 1 for i in to_dim)
        assert [r.result for r in audit_of(b.address, "mode.activate", run_id)] == ["ok"]  # B's, once
        assert audit_of(a.address, "mode.activate", run_id) == []

        # The leader dies while the mode is active. Until B leads, B still lists the run active
        # and refuses to stop it, saying why, doing nothing; then B leads with the run under its
        # id and stops it: every light gets back the state the test read before the mode.
        b_size = b_log.stat().st_size
        seq_at_kill = on_a.sequence
        a.kill()
        t_kill = time.monotonic()
        wa.cancel()
        listed = {r.run_id: r for r in stub_b.ListModes(modes_pb2.ListModesRequest(), timeout=10).active}
        assert listed[run_id].state == R.ACTIVE
        stop = modes_pb2.ReturnToNormalRequest(
            idempotency_key=uuid.uuid4().hex, run_id=run_id, reason="over", confirmed=True
        )
        refused = 0
        while True:
            try:
                back = stub_b.ReturnToNormal(stop, timeout=30)
                break
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
                assert "no leader replica at the moment" in (exc.details() or ""), exc.details()
                refused += 1
                assert time.monotonic() - t_kill < 30, "no replica stopped the mode"
                time.sleep(0.2)  # retried under the deadline, as a console would
        t_stopped = time.monotonic()
        assert refused >= 1  # the first try came before any replica could hold the lease
        assert back.run.run_id == run_id and not back.hand_changed
        t_lead = wait_for_line(b_log, MODES, 1, after=b_size)  # B took the modes over after the kill
        failover = t_lead - t_kill
        assert failover < 10, f"B ran the modes {failover:.1f} s after the leader died"

        # A's console resumes on B from its last sequence: changes, never a snapshot.
        resumed = watch(stub_b, after=on_a.sequence, epoch=on_a.epoch, timeout=300)
        first = next(resumed)
        assert first.WhichOneof("event") in ("changes", "heartbeat"), first.WhichOneof("event")
        on_a.feed(first)
        on_a.read_until_true(resumed, lambda: on_a.runs[run_id].state in (R.RETURNED, R.RETURNED_PARTIAL), 90)
        t_returned = time.monotonic()
        assert on_a.runs[run_id].state == R.RETURNED
        with open_channel(b.address, user="supervisor") as ch:
            after = lights(ch)
        assert {i: state(x) for i, x in after.items()} == {i: state(x) for i, x in before.items()}
        on_b.read_until_true(wb, lambda: on_b.sequence >= on_a.sequence, 30)
        assert on_b.runs[run_id] == on_a.runs[run_id]
        resumed.cancel()
        wb.cancel()
        assets.cancel()
        assert on_a.snapshot_messages == 1  # the one before the kill: the resume brought none
        assert [r.result for r in audit_of(b.address, "mode.return", run_id)] == ["ok"]  # once
        # The run went on under its id: ACTIVE up to the kill, then B's return, nothing between.
        mine = [c for c in on_a.changes if c.run.run_id == run_id]
        before_kill = [c.run.state for c in mine if c.sequence <= seq_at_kill]
        after_kill = [c.run.state for c in mine if c.sequence > seq_at_kill]
        assert before_kill[-1] == R.ACTIVE and after_kill[0] == R.RETURNING, (before_kill, after_kill)
        assert after_kill[-1] == R.RETURNED and set(after_kill) == {R.RETURNING, R.RETURNED}, after_kill
        with capsys.disabled():
            print(
                f"\n[modes on bus] {len(to_dim)} lights dimmed once through the follower; after the"
                f" leader's kill -9 B ran the modes {failover:.2f} s after it ({refused} stops refused"
                f" before, no leader), stopped the mode {t_stopped - t_kill:.2f} s after it, the return"
                f" ended {t_returned - t_kill:.1f} s after it; A's watch resumed on B without a snapshot,"
                f" {len(on_a.changes)} changes checked"
            )
    finally:
        a.kill()
        if b is not None:
            b.kill()


class DecisionReader:
    """A WatchAccessEvents stream read under a deadline: each decision by its sequence, which
    must follow the previous one without a gap, in one epoch."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.seen: dict[int, tuple[str, str, bool, str]] = {}
        self.epochs: set[str] = set()
        self.last = 0

    def read_until(self, cond, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for msg in self.stream:
            assert msg.WhichOneof("event") != "resync_needed", msg.resync_needed.reason
            self.epochs.add(msg.epoch)
            for e in msg.events.events:
                assert self.last == 0 or e.sequence == self.last + 1, (e.sequence, self.last)
                self.last = e.sequence
                self.seen[e.sequence] = (e.asset_id, e.badge_id, e.granted, e.reason)
            if cond():
                return
            assert time.monotonic() < deadline, "not reached in time"
        raise AssertionError("stream ended early")


def test_access_decisions_made_on_the_leader_stream_on_the_follower(nats_server, tmp_path):
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    a = replica(nats_server.url, a_log, *QUIET, "--badge-rate", "20").start()
    b = None
    try:
        wait_for_line(a_log, MODES, 30)
        b = replica(nats_server.url, b_log, *QUIET, "--badge-rate", "20").start()
        readers = [
            DecisionReader(
                modes_pb2_grpc.CardholderServiceStub(
                    open_channel(address, user="operator")
                ).WatchAccessEvents(modes_pb2.WatchAccessEventsRequest(), timeout=120)
            )
            for address in (a.address, b.address)
        ]
        on_a, on_b = readers
        on_a.read_until(lambda: len(on_a.seen) >= 20, 60)
        target = on_a.last + 20  # decided after both streams opened
        on_a.read_until(lambda: on_a.last >= target, 60)
        on_b.read_until(lambda: on_b.last >= target, 60)
        for r in readers:
            r.stream.cancel()
        common = set(on_a.seen) & set(on_b.seen)
        assert len(common) >= 20, "the replicas' decisions do not overlap"
        assert all(on_a.seen[s] == on_b.seen[s] for s in common)  # the same decision at the same sequence
        assert len(on_a.epochs) == 1 and on_a.epochs == on_b.epochs
    finally:
        a.kill()
        if b is not None:
            b.kill()
