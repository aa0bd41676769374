"""Evidence export on a real backend recording a real (file) camera: an operator exports a range
with a reason, watches it finish and downloads it; the test's own SHA-256 of each file equals
the manifest's; `vigie verify-export` (a real process) accepts the folder and refuses it once a
single byte is changed; the export and its end (with the manifest's hash) are in the audit
trail. Viewers cannot export; bad requests are refused with the field named; supervisors set a
camera's mode (audited)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import av
import grpc
import pytest

from tests.api.recording_helpers import start_recording_backend, ts
from tests.api.test_cameras_catalogue import wait_for
from tests.conftest import open_channel
from vigie.v1 import audit_pb2, audit_pb2_grpc, playback_pb2, playback_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent.parent
RS = playback_pb2.RecordingSettings


def verify_export(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigie.app", "verify-export", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def download(stub, export_id: str, folder: Path) -> None:
    folder.mkdir()
    handles: dict[str, object] = {}
    for chunk in stub.DownloadExport(playback_pb2.DownloadExportRequest(export_id=export_id), timeout=60):
        assert len(chunk.data) <= 256 * 1024
        f = handles.setdefault(chunk.name, open(folder / chunk.name, "wb"))  # noqa: SIM115 - closed below
        assert f.tell() == chunk.offset
        f.write(chunk.data)
    for f in handles.values():
        f.close()


@pytest.fixture
def recording_backend(tmp_path, make_backend):
    return start_recording_backend(tmp_path, make_backend)


def test_export_verifies_a_changed_byte_fails_and_it_is_audited(tmp_path, recording_backend):
    b, t0 = recording_backend
    op = open_channel(b.address, user="operator")
    stub = playback_pb2_grpc.PlaybackServiceStub(op)
    start, end = t0, time.time()
    job = stub.StartExport(
        playback_pb2.StartExportRequest(
            camera_ids=["file-1", "file-2"],
            range=playback_pb2.TimeRange(start=ts(start), end=ts(end)),
            reason="case 2026-117: hit and run",
            idempotency_key="k-1",
        ),
        timeout=10,
    )
    again = stub.StartExport(
        playback_pb2.StartExportRequest(
            camera_ids=["file-1", "file-2"],
            range=playback_pb2.TimeRange(start=ts(start), end=ts(end)),
            reason="case 2026-117: hit and run",
            idempotency_key="k-1",
        ),
        timeout=10,
    )
    assert again.export_id == job.export_id
    states = []
    for j in stub.WatchExport(playback_pb2.WatchExportRequest(export_id=job.export_id), timeout=60):
        states.append((j.state, j.progress))
        if j.state != playback_pb2.ExportJob.RUNNING:
            break
    assert j.state == playback_pb2.ExportJob.DONE, j.error
    assert [p for _, p in states] == sorted(p for _, p in states) and states[-1][1] == 1.0
    assert {f.camera_id for f in j.files} == {"file-1", "file-2"}

    folder = tmp_path / "evidence"
    download(stub, job.export_id, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["requested_by"] == "operator" and manifest["reason"] == "case 2026-117: hit and run"
    assert manifest["cameras"] == ["file-1", "file-2"]
    for f in manifest["files"]:
        data = (folder / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"]
        with av.open(str(folder / f["name"])) as c:  # a playable file: JPEG pictures as recorded
            assert c.streams.video[0].codec_context.name == "mjpeg"
            n = sum(1 for p in c.demux(c.streams.video[0]) if p.size)
        assert n == f["frames"] and n >= 20

    ok = verify_export(folder)
    assert ok.returncode == 0 and "export verified" in ok.stdout, ok.stdout + ok.stderr

    target = folder / manifest["files"][0]["name"]
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one changed bit
    target.write_bytes(bytes(raw))
    bad = verify_export(folder)
    assert bad.returncode == 1, bad.stdout
    assert f"{target.name}: SHA-256 differs" in bad.stdout and "NOT verified" in bad.stdout

    manifest_hash = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    with open_channel(b.address, user="supervisor") as sup:
        audit = audit_pb2_grpc.AuditServiceStub(sup)

        def records() -> list:
            return list(
                audit.ListAudit(audit_pb2.ListAuditRequest(action="recording.export"), timeout=10).records
            )

        recs = wait_for(
            lambda: [r for r in records() if r.action == "recording.export_finished"],
            20,
            "export end audited",
        )
        started = [r for r in records() if r.action == "recording.export"]
        assert started and started[0].user == "operator" and started[0].reason == "case 2026-117: hit and run"
        assert manifest_hash in recs[0].detail
    op.close()


def test_viewers_cannot_export_and_bad_exports_are_refused(recording_backend):
    b, t0 = recording_backend
    rng = playback_pb2.TimeRange(start=ts(t0), end=ts(t0 + 10))
    with open_channel(b.address, user="viewer") as ch:
        with pytest.raises(grpc.RpcError) as err:
            playback_pb2_grpc.PlaybackServiceStub(ch).StartExport(
                playback_pb2.StartExportRequest(camera_ids=["file-1"], range=rng, reason="x"), timeout=10
            )
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with open_channel(b.address, user="operator") as ch:
        stub = playback_pb2_grpc.PlaybackServiceStub(ch)
        cases = [
            (dict(camera_ids=["file-1"], range=rng, reason=""), grpc.StatusCode.INVALID_ARGUMENT, "reason"),
            (dict(camera_ids=[], range=rng, reason="r"), grpc.StatusCode.INVALID_ARGUMENT, "camera_ids"),
            (
                dict(camera_ids=["file-1"] * 17, range=rng, reason="r"),
                grpc.StatusCode.INVALID_ARGUMENT,
                "camera_ids",
            ),
            (dict(camera_ids=["nope"], range=rng, reason="r"), grpc.StatusCode.NOT_FOUND, "nope"),
            (
                dict(camera_ids=["file-1"], range=rng, reason="r" * 1001),
                grpc.StatusCode.INVALID_ARGUMENT,
                "reason",
            ),
            (
                dict(camera_ids=["x" * 129], range=rng, reason="r"),
                grpc.StatusCode.INVALID_ARGUMENT,
                "camera_ids",
            ),
            (
                dict(
                    camera_ids=["file-1"],
                    range=playback_pb2.TimeRange(start=ts(t0), end=ts(t0 + 25 * 3600)),
                    reason="r",
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "range",
            ),
            (
                dict(
                    camera_ids=["file-1"],
                    range=playback_pb2.TimeRange(start=ts(t0), end=ts(t0 - 1)),
                    reason="r",
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "range",
            ),
        ]
        for fields, code, word in cases:
            with pytest.raises(grpc.RpcError) as err:
                stub.StartExport(playback_pb2.StartExportRequest(**fields), timeout=10)
            assert err.value.code() == code and word in err.value.details(), (fields, err.value.details())
        with pytest.raises(grpc.RpcError) as err:  # an operator does not change recording settings
            playback_pb2_grpc.RecordingServiceStub(ch).SetRecordingSettings(
                playback_pb2.SetRecordingSettingsRequest(settings=RS(camera_id="file-1", mode=RS.OFF)),
                timeout=10,
            )
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_supervisor_turns_a_camera_off_and_recording_stops(recording_backend):
    b, t0 = recording_backend
    with open_channel(b.address, user="supervisor") as ch:
        rs = playback_pb2_grpc.RecordingServiceStub(ch)
        got = rs.SetRecordingSettings(
            playback_pb2.SetRecordingSettingsRequest(
                settings=RS(camera_id="file-2", mode=RS.OFF), reason="privacy"
            ),
            timeout=10,
        )
        assert got.mode == RS.OFF
        wait_for(
            lambda: (
                not rs.GetRecordingSettings(
                    playback_pb2.GetRecordingSettingsRequest(camera_ids=["file-2"]), timeout=10
                )
                .cameras[0]
                .recording
            ),
            20,
            "file-2 stops recording",
        )
        listed = rs.GetRecordingSettings(playback_pb2.GetRecordingSettingsRequest(), timeout=10)
        modes = {c.camera_id: c.mode for c in listed.cameras}
        assert modes == {
            "file-1": RS.CONTINUOUS,
            "file-2": RS.OFF,
            "file-3": RS.CONTINUOUS,
            "file-4": RS.CONTINUOUS,
        }
        assert listed.retention.used_bytes > 0 and listed.retention.quota_bytes == 10240 * 1024 * 1024
        with pytest.raises(grpc.RpcError) as err:
            rs.SetRecordingSettings(
                playback_pb2.SetRecordingSettingsRequest(settings=RS(camera_id="file-1", pre_alarm_s=301)),
                timeout=10,
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "pre_alarm_s" in err.value.details()
        recs = (
            audit_pb2_grpc.AuditServiceStub(ch)
            .ListAudit(audit_pb2.ListAuditRequest(action="recording.settings"), timeout=10)
            .records
        )
        assert [(r.user, r.target, r.reason, r.result) for r in recs if r.result == "ok"] == [
            ("supervisor", "file-2", "privacy", "ok")
        ]
