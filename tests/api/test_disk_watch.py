"""The backend watches the free space of its data dir: below --min-free-mb it raises a SYSTEM
alarm on every console and reports NOT_SERVING for the health service vigie.backend.disk, before
any write fails; with space again the alarm clears and the health is SERVING. Real backends, real
file systems (the real disk with a threshold above its free space; a small tmpfs filled up)."""

from __future__ import annotations

import os

from grpc_health.v1 import health_pb2

from tests.conftest import open_channel
from tests.fixtures.storage import fill, small_tmpfs, wait_health, wait_system_alarm
from vigie.v1 import alarms_pb2, alarms_pb2_grpc, assets_pb2, map_pb2, map_pb2_grpc

QUIET = ("--lights", "0", "--vehicles", "0", "--quiet-city", "--disk-check-interval", "0.1")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_a_threshold_above_the_free_space_raises_a_system_alarm_and_health(make_backend, tmp_path):
    st = os.statvfs(tmp_path)
    free_mb = st.f_bavail * st.f_frsize / 2**20
    b = make_backend(
        *QUIET, "--data-dir", str(tmp_path / "d"), "--min-free-mb", str(int(free_mb * 2) + 1)
    ).start()
    wait_health(b.address, "vigie.backend.disk", NOT_SERVING, timeout=5)  # already at startup
    wait_health(b.address, "", SERVING)  # the backend still serves
    with open_channel(b.address, "viewer") as ch:
        alarm = wait_system_alarm(ch, "disk_space_low", active=True)
        assert alarm.asset_id == "system-backend" and alarm.priority == 2
        centre = map_pb2_grpc.MapServiceStub(ch).GetBasemap(map_pb2.GetBasemapRequest(), timeout=10).center
        assert alarm.position == centre  # placed at the city's centre, not at 0°N 0°E
        assert alarm.state == alarms_pb2.Alarm.UNACK_ACTIVE
        assert "below" in alarm.message and str(tmp_path / "d") in alarm.message
        journal = alarms_pb2_grpc.AlarmServiceStub(ch).ListAlarms(
            alarms_pb2.ListAlarmsRequest(kinds=[assets_pb2.Asset.SYSTEM]), timeout=10
        )
        assert [a.cause for a in journal.alarms] == ["disk_space_low"]


def test_a_filling_disk_raises_the_alarm_before_writes_fail_and_clears_it_when_freed(make_backend):
    with small_tmpfs(64) as disk:
        data = disk / "data"
        b = make_backend(*QUIET, "--data-dir", str(data), "--min-free-mb", "16").start()
        wait_health(b.address, "vigie.backend.disk", SERVING)
        with open_channel(b.address, "viewer") as ch:
            filler = fill(disk, leave_bytes=8 * 2**20)  # 8 MiB left: below 16, writes still work
            wait_health(b.address, "vigie.backend.disk", NOT_SERVING)
            wait_system_alarm(ch, "disk_space_low", active=True)
            # nothing is lost yet: the alarm writer still saves (its health stays SERVING)
            wait_health(b.address, "vigie.v1.AlarmService", SERVING, timeout=2)
            filler.unlink()
            wait_health(b.address, "vigie.backend.disk", SERVING)
            cleared = wait_system_alarm(ch, "disk_space_low", active=False)
            assert cleared.state == alarms_pb2.Alarm.RTN_UNACK  # stays listed until acknowledged
        b.stop()
