"""A backend whose data dir's disk fills up (a real tmpfs, filled by the test): the alarm writer
reports NOT_SERVING for vigie.v1.AlarmService and vigie.backend.alarm-store, raises a SYSTEM
alarm that every console sees, keeps answering, and recovers once space is freed."""

from __future__ import annotations

from grpc_health.v1 import health_pb2

from tests.conftest import open_channel
from tests.fixtures.storage import fill, small_tmpfs, wait_health, wait_system_alarm
from vigie.v1 import alarms_pb2, alarms_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_a_full_disk_is_reported_in_health_and_as_an_alarm_then_recovers(make_backend):
    with small_tmpfs(16) as disk:
        b = make_backend(
            "--lights", "0", "--vehicles", "0", "--quiet-city", "--alarm-rate", "200",
            "--min-free-mb", "0", "--data-dir", str(disk / "data"),
        ).start()  # fmt: skip
        for name in ("vigie.v1.AlarmService", "vigie.backend.alarm-store"):
            wait_health(b.address, name, SERVING)
        with open_channel(b.address, "viewer") as ch:
            filler = fill(disk)  # ENOSPC from here on
            wait_health(b.address, "vigie.backend.alarm-store", NOT_SERVING, timeout=60)
            wait_health(b.address, "vigie.v1.AlarmService", NOT_SERVING, timeout=5)
            alarm = wait_system_alarm(ch, "alarm_store_failing", active=True)
            assert alarm.priority == 1 and "cannot be saved" in alarm.message
            # the journal still answers (from what was saved) while writes fail
            alarms_pb2_grpc.AlarmServiceStub(ch).ListAlarms(
                alarms_pb2.ListAlarmsRequest(page_size=5), timeout=10
            )
            filler.unlink()
            wait_health(b.address, "vigie.backend.alarm-store", SERVING, timeout=30)
            wait_health(b.address, "vigie.v1.AlarmService", SERVING, timeout=5)
            wait_system_alarm(ch, "alarm_store_failing", active=False)
        b.stop()
        assert b.proc is not None and b.proc.returncode == 0
