"""Health per dependency: the data dir that stops being writable turns `vigie.backend.data-dir`
(and the services that write there) NOT_SERVING, raises a P1 system alarm, and everything comes
back by itself once it is writable again. The data dir is made immutable with chattr +i, which
stops root too (tests/fixtures/storage.py says why not a read-only remount)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from grpc_health.v1 import health_pb2

from tests.conftest import ROOT, open_channel
from tests.fixtures.storage import immutable_dir, wait_health, wait_system_alarm

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_read_only_data_dir_is_not_serving_and_comes_back(make_backend):
    data = Path(tempfile.mkdtemp(prefix="vigie-test-data-"))
    b = make_backend(
        "--data-dir",
        str(data),
        "--lights",
        "0",
        "--vehicles",
        "0",
        "--quiet-city",
        "--health-check-interval",
        "0.2",
    ).start()
    wait_health(b.address, "vigie.backend.data-dir", SERVING)
    wait_health(b.address, "vigie.backend.devices", SERVING)
    with open_channel(b.address, "operator") as ch:
        with immutable_dir(data):
            wait_health(b.address, "vigie.backend.data-dir", NOT_SERVING)
            wait_health(b.address, "vigie.v1.AlarmService", NOT_SERVING)
            wait_health(b.address, "vigie.backend.devices", SERVING)  # the others are not affected
            wait_health(b.address, "vigie.v1.AssetService", SERVING)
            alarm = wait_system_alarm(ch, "data_dir_not_writable", active=True)
            assert alarm.priority == 1 and str(data) in alarm.message
            probe = health_cli(b.address, "vigie.backend.data-dir")  # what a HEALTHCHECK runs
            assert probe.returncode == 1 and "NOT_SERVING" in probe.stdout
        wait_health(b.address, "vigie.backend.data-dir", SERVING)
        wait_health(b.address, "vigie.v1.AlarmService", SERVING)
        wait_system_alarm(ch, "data_dir_not_writable", active=False)
        probe = health_cli(b.address, "vigie.backend.data-dir")
        assert probe.returncode == 0 and "SERVING" in probe.stdout


def health_cli(address: str, service: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigie.backend", "health", "--address", address, "--service", service],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
