"""`vigie-backend --metrics HOST:PORT`: the Prometheus endpoint answers in the text format and
its counters move when the matching events happen: one RPC, one alarm raised, one failed login.
Expected values come from counting what this test did, read from the scraped text."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.conftest import READY, ROOT, login, open_channel
from tests.fixtures.storage import immutable_dir
from vigie.v1 import alarms_pb2, alarms_pb2_grpc, assets_pb2, assets_pb2_grpc

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def scrape(url: str) -> dict[str, float]:
    """`name{labels}` -> value, from the text format (labels sorted, as the client prints them)."""
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def wait_value(url: str, key: str, predicate, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = scrape(url).get(key)
        if seen is not None and predicate(seen):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{key} stayed {seen}")


@pytest.fixture
def metered_backend():
    """A backend with --metrics on a free port; yields (grpc address, metrics URL, data dir)."""
    data = Path(tempfile.mkdtemp(prefix="vigie-test-data-"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vigie.backend",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            str(data),
            "--demo-users",
            "--lights",
            "0",
            "--vehicles",
            "0",
            "--quiet-city",
            "--metrics",
            "127.0.0.1:0",
            "--health-check-interval",
            "0.2",
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    metrics = address = None
    for line in proc.stdout:
        if line.startswith("VIGIE_BACKEND_METRICS"):
            metrics = f"http://{line.split()[1]}/metrics"
        if line.startswith(READY):
            address = line.split()[1]
            break
    assert metrics and address, f"backend exited with {proc.poll()}"
    yield address, metrics, data
    proc.terminate()
    proc.wait(30)


def test_counters_move_on_one_rpc_one_alarm_and_one_failed_login(metered_backend):
    address, url, data = metered_backend
    get_asset = 'vigie_rpc_requests_total{code="NOT_FOUND",method="/vigie.v1.AssetService/GetAsset"}'
    failed_login = 'vigie_login_failures_total{result="failed"}'
    raised_p1 = 'vigie_alarms_raised_total{kind="SYSTEM",priority="1"}'
    with open_channel(address, "operator") as ch:
        before = scrape(url)
        with pytest.raises(grpc.RpcError) as err:
            assets_pb2_grpc.AssetServiceStub(ch).GetAsset(
                assets_pb2.GetAssetRequest(id="no-such-device"), timeout=10
            )
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as err:
            login(address, "operator", password="not-the-password")
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        after = scrape(url)
        assert after[get_asset] - before.get(get_asset, 0) == 1
        assert after[failed_login] - before.get(failed_login, 0) == 1
        histogram = 'vigie_rpc_duration_seconds_count{method="/vigie.v1.AssetService/GetAsset"}'
        assert after[histogram] - before.get(histogram, 0) == 1
        # One alarm: the data dir stops being writable (a P1 system alarm, nothing else raises
        # one in a quiet city).
        # The simulated city raises alarms of its own (a forced door...): the SYSTEM ones are the
        # backend's; a data dir that cannot be written may also stop a store's writes (a second
        # SYSTEM alarm), so those raised are counted from the alarm service's own list.
        start = time.time()
        with immutable_dir(data):
            wait_value(url, raised_p1, lambda v: v >= before.get(raised_p1, 0) + 1)
            # States are sampled every few seconds: the open P1 alarm shows up in the gauge.
            wait_value(url, 'vigie_alarms{priority="1",state="UNACK_ACTIVE"}', lambda v: v >= 1)
        listed = alarms_pb2_grpc.AlarmServiceStub(ch).ListAlarms(
            alarms_pb2.ListAlarmsRequest(
                priorities=[1], kinds=[assets_pb2.Asset.SYSTEM], start=Timestamp(seconds=int(start) - 1)
            ),
            timeout=10,
        )
        raised = [a for a in listed.alarms if a.raised_at.seconds >= int(start) - 1]
        assert any(a.cause == "data_dir_not_writable" for a in raised), raised
        assert scrape(url)[raised_p1] == before.get(raised_p1, 0) + len(raised)  # each counted once
        assert scrape(url)["vigie_data_dir_free_bytes"] > 0
