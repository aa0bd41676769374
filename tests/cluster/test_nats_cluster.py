"""A 3-node NATS cluster (R3 streams, sync_interval: always) under a backend replica's load; the
node leading the asset stream is killed -9: the writes go on through the others, a console
watching the replica sees every change ordered, unique and without gaps, and the stream itself
has no hole over the whole run."""

from __future__ import annotations

import time

from tests.cluster.helpers import (
    AssetChecker,
    assets_stub,
    replica,
    stream_holes,
    stream_state,
    wait_for_line,
    watch,
)
from tests.cluster.nats_server import three_node_cluster

CHANGE_RATE = 2000  # three nodes fsyncing every write and a replica, on two shared cores


def test_a_node_killed_under_load_loses_nothing_and_writes_go_on(tmp_path, capsys):
    nodes = three_node_cluster(sync_always=True)
    for n in nodes:
        n.start()
    urls = [n.url for n in nodes]
    log = tmp_path / "a.log"
    a = None
    try:
        a = replica(",".join(urls), log, "--bus-replicas", "3", "--change-rate", str(CHANGE_RATE)).start(
            timeout=120
        )
        wait_for_line(log, "is now the leader", 60)
        first, _, replicas, leader = stream_state(urls)
        first = max(first, 1)
        assert replicas == 3
        checker = AssetChecker()
        stream = watch(assets_stub(a.address), timeout=240)
        checker.read_until(stream, lambda: checker.snapshots == 1 and not checker.in_snapshot, 60)
        checker.read_until(stream, lambda: checker.changes >= 5_000, 120)

        victim = next(n for n in nodes if n.name == leader)
        victim.kill()
        t_kill = time.monotonic()
        _, last_at_kill, _, _ = stream_state([n.url for n in nodes if n is not victim])
        # Writes go on: the console sees changes well past what the stream held at the kill.
        t_on = checker.read_until(stream, lambda: checker.revision > last_at_kill + 5_000, 120)
        stream.cancel()
        _, last, _, new_leader = stream_state([n.url for n in nodes if n is not victim])
        assert new_leader and new_leader != victim.name
        assert checker.snapshots == 1
        assert stream_holes([n.url for n in nodes if n is not victim], first, last) == []
        with capsys.disabled():
            print(
                f"\n[nats cluster] stream leader {victim.name} killed; {new_leader} leads; changes flowed"
                f" past the kill point +5,000 after {t_on - t_kill:.1f} s; {checker.changes:,} changes checked,"
                f" stream seq {first}..{last} without a hole"
            )
    finally:
        if a is not None:
            a.kill()
        for n in nodes:
            n.kill()
