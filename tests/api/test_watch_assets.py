"""WatchAssets: snapshot, consecutive revisions, exact resume, and explicit resync."""

from __future__ import annotations

import time

import grpc
import pytest

from tests.conftest import open_channel
from vigie.v1 import assets_pb2, assets_pb2_grpc


def stub_for(address: str) -> assets_pb2_grpc.AssetServiceStub:
    return assets_pb2_grpc.AssetServiceStub(open_channel(address, user="viewer"))


def read_snapshot(stream) -> tuple[dict[str, assets_pb2.Asset], int, str]:
    assets: dict[str, assets_pb2.Asset] = {}
    for msg in stream:
        assert msg.WhichOneof("event") == "snapshot"
        for a in msg.snapshot.assets:
            assets[a.id] = a
        if msg.snapshot.last:
            return assets, msg.revision, msg.epoch
    raise AssertionError("stream ended inside the snapshot")


def read_changes_until(stream, revision: int) -> list[assets_pb2.AssetChange]:
    """Collect changes until `revision` is reached (the stream has a deadline)."""
    out: list[assets_pb2.AssetChange] = []
    for msg in stream:
        kind = msg.WhichOneof("event")
        assert kind in ("changes", "heartbeat"), kind
        out.extend(msg.changes.changes)
        if out and out[-1].revision >= revision:
            return out
    raise AssertionError("stream ended early")


def test_snapshot_then_consecutive_changes(backend):
    stub = stub_for(backend.address)
    stream = stub.WatchAssets(assets_pb2.WatchAssetsRequest(after_revision=0), timeout=30)
    assets, rev, epoch = read_snapshot(stream)
    listed = stub.ListAssets(assets_pb2.ListAssetsRequest(page_size=1), timeout=5)
    assert len(assets) == listed.total_size and epoch == listed.epoch
    changes = read_changes_until(stream, rev + 30)
    stream.cancel()
    assert [c.revision for c in changes] == list(range(rev + 1, changes[-1].revision + 1))
    assert all(c.asset.revision == c.revision for c in changes)


def test_resume_after_disconnect_loses_and_repeats_nothing(backend):
    stub = stub_for(backend.address)
    # A reference watcher that never disconnects.
    ref = stub.WatchAssets(assets_pb2.WatchAssetsRequest(after_revision=0), timeout=60)
    _, ref_rev, epoch = read_snapshot(ref)
    # A second watcher reads a little, drops the stream, and resumes later from what it saw.
    first = stub.WatchAssets(assets_pb2.WatchAssetsRequest(after_revision=ref_rev, epoch=epoch), timeout=30)
    seen = read_changes_until(first, ref_rev + 20)
    first.cancel()
    last = seen[-1].revision
    # Let the city move on while it is away.
    reference = read_changes_until(ref, last + 200)
    ref.cancel()
    resumed = stub.WatchAssets(assets_pb2.WatchAssetsRequest(after_revision=last, epoch=epoch), timeout=30)
    after = read_changes_until(resumed, reference[-1].revision)
    resumed.cancel()
    got = seen + after
    revisions = [c.revision for c in got]
    assert revisions[: len(set(revisions))] == list(range(ref_rev + 1, ref_rev + 1 + len(revisions)))
    by_rev = {c.revision: c.asset for c in reference}
    for c in got:
        if c.revision in by_rev:
            assert c.asset == by_rev[c.revision]


def test_resync_needed_when_history_aged_out(make_backend):
    # History shorter than what the city changes in a second: a client away for 1 s must resync.
    b = make_backend("--history", "300", "--change-rate", "1000").start()
    stub = stub_for(b.address)
    stream = stub.WatchAssets(assets_pb2.WatchAssetsRequest(after_revision=0), timeout=30)
    _, rev, epoch = read_snapshot(stream)
    read_changes_until(stream, rev + 1000)  # well past the 300 retained
    stream.cancel()
    old = stub.WatchAssets(assets_pb2.WatchAssetsRequest(after_revision=rev, epoch=epoch), timeout=10)
    msg = next(iter(old))
    assert msg.WhichOneof("event") == "resync_needed"
    assert msg.resync_needed.requested_revision == rev
    assert msg.resync_needed.oldest_available_revision > rev + 1
    assert "aged out" in msg.resync_needed.reason


def test_resync_needed_after_backend_restart(make_backend):
    b = make_backend("--lights", "100", "--vehicles", "5").start()
    listed = stub_for(b.address).ListAssets(assets_pb2.ListAssetsRequest(page_size=1), timeout=10)
    b.stop()
    b.start()  # the same port, a new process: a new revision history
    stub = stub_for(b.address)
    stream = stub.WatchAssets(
        assets_pb2.WatchAssetsRequest(after_revision=listed.revision, epoch=listed.epoch), timeout=30
    )
    msg = next(iter(stream))
    stream.cancel()
    assert msg.WhichOneof("event") == "resync_needed" and "restarted" in msg.resync_needed.reason
    assert msg.epoch and msg.epoch != listed.epoch


def test_future_revision_of_same_epoch_is_invalid(backend):
    stub = stub_for(backend.address)
    listed = stub.ListAssets(assets_pb2.ListAssetsRequest(page_size=1), timeout=5)
    stream = stub.WatchAssets(
        assets_pb2.WatchAssetsRequest(after_revision=listed.revision + 10**9, epoch=listed.epoch), timeout=10
    )
    with pytest.raises(grpc.RpcError) as err:
        next(iter(stream))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "ahead" in err.value.details()


def test_quiet_stream_gets_heartbeats(make_backend):
    # The city ticks once a second; with a 0.2 s heartbeat the quiet gaps between ticks carry some.
    b = make_backend("--heartbeat", "0.2").start()
    stub = stub_for(b.address)
    stream = stub.WatchAssets(assets_pb2.WatchAssetsRequest(after_revision=0), timeout=30)
    read_snapshot(stream)
    deadline = time.monotonic() + 10
    kinds = set()
    for msg in stream:
        kinds.add(msg.WhichOneof("event"))
        if "heartbeat" in kinds or time.monotonic() > deadline:
            break
    stream.cancel()
    assert "heartbeat" in kinds
