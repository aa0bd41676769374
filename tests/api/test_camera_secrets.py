"""A camera URL's credentials never reach a viewer: every status_reason a console receives for a
catalogue camera shows its URL redacted, from the first snapshot to the failed connection."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.conftest import open_channel
from vigie.v1 import assets_pb2, assets_pb2_grpc

SECRETS = ("hunter2", "s3cr3t", "tok42")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens once the socket is closed


def test_status_reasons_carry_redacted_urls(make_backend, tmp_path: Path):
    url = f"rtsp://admin:hunter2@127.0.0.1:{_closed_port()}/live?user=x&password=s3cr3t&token=tok42"
    cams = tmp_path / "cams.toml"
    cams.write_text(f'[[camera]]\nid = "gate"\nname = "Gate"\nurl = "{url}"\nlat = 47.3\nlon = 5.0\n')
    b = make_backend("--cameras", str(cams), "--no-simulator").start()
    reasons: list[str] = []
    with open_channel(b.address, user="viewer") as ch:
        stream = assets_pb2_grpc.AssetServiceStub(ch).WatchAssets(assets_pb2.WatchAssetsRequest(), timeout=60)
        for msg in stream:
            assets = [*msg.snapshot.assets, *(c.asset for c in msg.changes.changes)]
            reasons += [a.status_reason for a in assets if a.id == "gate"]
            if any(r.startswith("no video: cannot open") for r in reasons):
                break
        stream.cancel()
    for reason in reasons:
        assert not [s for s in SECRETS if s in reason], reason
        assert "rtsp://admin:***@127.0.0.1:" in reason and "?user=x&password=***&token=***" in reason
