"""The map at time T: a real backend on the simulated city with flapping statuses; the test
watches every asset change itself (WatchAssets) and notes when it saw it; GetCityState(T) must
give each asset the status (and a vehicle the position) the test saw at T. Assets that changed
within a second of T are left out (the test's clock is the stream's arrival, not the backend's
stamp). Also: times in the future and bad pages are refused."""

from __future__ import annotations

import math
import threading
import time

import grpc
import pytest

from tests.api.recording_helpers import ts
from tests.api.test_cameras_catalogue import wait_for
from tests.conftest import open_channel
from vigie.v1 import assets_pb2, assets_pb2_grpc, playback_pb2, playback_pb2_grpc

A = assets_pb2.Asset


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dy = (a[0] - b[0]) * 111_320.0
    dx = (a[1] - b[1]) * 111_320.0 * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


class Watcher:
    """Every asset state the test saw, with when: id -> [(seen at, status, lat, lon, kind)]."""

    def __init__(self, channel) -> None:
        self.seen: dict[str, list[tuple[float, int, float, float, int]]] = {}
        self.snapshot_done = threading.Event()
        self.error: list[BaseException] = []
        self.call = assets_pb2_grpc.AssetServiceStub(channel).WatchAssets(
            assets_pb2.WatchAssetsRequest(after_revision=0), timeout=120
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _note(self, a: assets_pb2.Asset, now: float) -> None:
        self.seen.setdefault(a.id, []).append((now, a.status, a.position.lat, a.position.lon, a.kind))

    def _run(self) -> None:
        try:
            for msg in self.call:
                now = time.time()
                kind = msg.WhichOneof("event")
                if kind == "snapshot":
                    for a in msg.snapshot.assets:
                        self._note(a, now)
                    if msg.snapshot.last:
                        self.snapshot_done.set()
                elif kind == "changes":
                    for ch in msg.changes.changes:
                        self._note(ch.asset, now)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error.append(exc)

    def at(self, asset_id: str, t: float) -> tuple[float, int, float, float, int] | None:
        states = [s for s in self.seen.get(asset_id, []) if s[0] <= t]
        return states[-1] if states else None

    def quiet_around(self, asset_id: str, t: float, margin: float) -> bool:
        return not any(abs(s[0] - t) < margin for s in self.seen.get(asset_id, []))


def test_the_city_at_t_matches_what_was_seen_at_t(make_backend):
    b = make_backend(
        "--lights", "300", "--change-rate", "40", "--change-kind", "status", "--seed", "5"
    ).start()
    ch = open_channel(b.address, user="viewer")
    w = Watcher(ch)
    assert w.snapshot_done.wait(60), "no snapshot"
    t_start = time.time()
    wait_for(lambda: time.time() - t_start > 10, 20, "10 s of changes")
    t = t_start + 5.0
    wait_for(lambda: time.time() > t + 4, 10, "4 s past T")  # the history writes once a second
    w.call.cancel()
    w.thread.join(10)
    assert not w.error, w.error

    stub = playback_pb2_grpc.PlaybackServiceStub(ch)
    got: dict[str, assets_pb2.Asset] = {}
    token = ""
    while True:
        page = stub.GetCityState(
            playback_pb2.GetCityStateRequest(time=ts(t), page_size=500, page_token=token), timeout=30
        )
        assert page.complete
        got.update({a.id: a for a in page.assets})
        token = page.next_page_token
        if not token:
            break
    compared = changed = 0
    wrong = []
    for asset_id in w.seen:
        expected = w.at(asset_id, t)
        if expected is None or not w.quiet_around(asset_id, t, 1.0):
            continue
        _, status, lat, lon, kind = expected
        assert asset_id in got, f"{asset_id} missing from the city at T"
        a = got[asset_id]
        compared += 1
        if w.seen[asset_id][0][1] != status:
            changed += 1  # its status at T is not the one it started with
        if kind == A.VEHICLE:
            if metres((lat, lon), (a.position.lat, a.position.lon)) > 60:
                wrong.append((asset_id, "position", (lat, lon), (a.position.lat, a.position.lon)))
        elif a.status != status:
            wrong.append((asset_id, A.Status.Name(status), A.Status.Name(a.status)))
    assert compared > 300 and changed >= 10, (compared, changed)
    assert not wrong, wrong[:10]

    with pytest.raises(grpc.RpcError) as err:
        stub.GetCityState(playback_pb2.GetCityStateRequest(time=ts(time.time() + 3600)), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "future" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        stub.GetCityState(playback_pb2.GetCityStateRequest(time=ts(t), page_size=10_001), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "page_size" in err.value.details()
    old = stub.GetCityState(playback_pb2.GetCityStateRequest(time=ts(t_start - 3600)), timeout=10)
    assert not old.complete and not old.assets
    ch.close()
