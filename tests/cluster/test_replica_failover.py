"""Two replicas on one bus; a console's WatchAssets on the leader, which is killed -9 while the
city changes quickly (2,000/s, VIGIE_CLUSTER_RATE): the console resumes on the other replica from its
last revision, without a snapshot, and the checker finds every change ordered, unique and without
gaps; the other replica takes the lease and the city goes on changing within 10 s."""

from __future__ import annotations

import os
import time

import grpc

from tests.cluster.helpers import (
    AssetChecker,
    assets_stub,
    leader_pid,
    replica,
    revision_of,
    stream_last_seq,
    wait_for_line,
    watch,
)

# Asked of the leader's simulator. 10,000 is the goal; this 2-core machine, shared, followed about
# 5,000 in each replica at load 13-18, and far less at load 40 (docs/cluster.md): a replica or a
# client further behind than its history resyncs (the test then fails, rightly). 2,000 holds
# there; VIGIE_CLUSTER_RATE asks for more.
CHANGE_RATE = int(os.environ.get("VIGIE_CLUSTER_RATE", "2000"))
LEADER = "is now the leader"


def test_console_resumes_on_the_other_replica_after_kill_9_and_the_lease_moves(nats_server, tmp_path, capsys):
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    a = replica(nats_server.url, a_log, "--change-rate", str(CHANGE_RATE)).start()
    b = None
    try:
        wait_for_line(a_log, LEADER, 30)
        b = replica(nats_server.url, b_log, "--change-rate", str(CHANGE_RATE)).start()
        # Two replicas running for a while: B's history begins before anything the console
        # will be shown by A (a replica's history starts when it joins).
        b_joined = revision_of(b.address)
        deadline = time.monotonic() + 60
        while revision_of(a.address) <= b_joined:
            assert time.monotonic() < deadline, "A never reached the point where B joined"
        checker = AssetChecker()
        stream = watch(assets_stub(a.address))
        checker.read_until(stream, lambda: checker.snapshots == 1 and not checker.in_snapshot, 60)
        start_rev, t0 = checker.revision, time.monotonic()
        t1 = checker.read_until(stream, lambda: checker.changes >= 30_000, 120)
        rate = checker.changes / (t1 - t0)
        with capsys.disabled():
            print(f"\n[cluster] the console received {rate:,.0f} changes/s (asked {CHANGE_RATE:,})")

        assert a.proc is not None and leader_pid(nats_server.url) == a.proc.pid, "A no longer leads"
        b_log_size = b_log.stat().st_size
        a.kill()  # -9, during the flow
        t_kill = time.monotonic()
        code = checker.read_until_broken(stream, 30)
        assert code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.INTERNAL), (
            code
        )
        last_of_a = stream_last_seq(nats_server.url)  # what the dead leader published, at most
        assert checker.revision <= last_of_a

        # The console moves to B with its last revision and epoch: changes, never a snapshot.
        resumed = watch(assets_stub(b.address), after=checker.revision, epoch=checker.epoch)
        first = next(resumed)
        t_resumed = time.monotonic()
        assert first.WhichOneof("event") in ("changes", "heartbeat"), first.WhichOneof("event")
        checker.feed(first)
        # Everything A had published, then B's own changes once it holds the lease.
        t_new = checker.read_until(resumed, lambda: checker.revision > last_of_a, 60)
        assert checker.snapshots == 1
        assert checker.revision - start_rev == checker.changes  # no gap, nothing twice
        wait_for_line(b_log, LEADER, 1, after=b_log_size)  # B took the lease after the kill
        failover = t_new - t_kill
        assert failover < 10, f"the city stood still {failover:.1f} s after its leader died"

        # Nothing lost: every asset of a fresh snapshot from B is, at the latest, what the
        # resumed console holds once it has read that far.
        fresh = AssetChecker()
        snap = watch(assets_stub(b.address))
        fresh.read_until(snap, lambda: fresh.snapshots == 1 and not fresh.in_snapshot, 60)
        snap.cancel()
        checker.read_until(resumed, lambda: checker.revision >= fresh.revision, 60)
        resumed.cancel()
        assert set(fresh.assets) <= set(checker.assets)
        for asset_id, asset in fresh.assets.items():
            mine = checker.assets[asset_id]
            assert mine.revision >= asset.revision
            if mine.revision == asset.revision:
                assert mine == asset
        with capsys.disabled():
            print(
                f"[cluster] console resumed on B"
                f" {t_resumed - t_kill:.2f} s after kill -9; new leader's changes after {failover:.2f} s;"
                f" {checker.changes:,} changes checked"
            )
    finally:
        a.kill()
        if b is not None:
            b.kill()
