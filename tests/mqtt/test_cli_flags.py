"""vigie-backend's device-network flags refuse what cannot work, with exit 2 and a reason, before
serving anything (no broker needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def backend(*args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "vigie.backend",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            str(tmp_path),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--devices", "http://broker:1883", "--discover"), "expected mqtt://HOST:PORT"),
        (("--devices", "mqtt://broker:70000", "--discover"), "the port must be a number"),
        (("--devices", "mqtt://127.0.0.1:1883"), "needs --devices-file FILE, --discover, or both"),
        (("--discover",), "go with --devices mqtt://HOST:PORT"),
        (("--devices", "mqtt://127.0.0.1:1883", "--discover", "--no-simulator"), "already replaces it"),
    ],
)
def test_bad_device_flags_exit_2(args, says, tmp_path):
    out = backend(*args, tmp_path=tmp_path)
    assert out.returncode == 2 and says in out.stderr, out.stderr[-1000:]


def test_a_bad_devices_file_lists_every_problem(tmp_path):
    path = tmp_path / "devices.json"
    path.write_text(
        '{"devices": [{"id": "ok-1", "kind": "street_light", "name": "A", "district": "X", "lat": 1, "lon": 2},'
        ' {"id": "bad id", "kind": "toaster", "name": "B", "district": "X", "lat": 100, "lon": 2},'
        ' {"id": "ok-1", "kind": "street_light", "name": "C", "district": "X", "lat": 1, "lon": 2}]}'
    )
    out = backend("--devices", "mqtt://127.0.0.1:1", "--devices-file", str(path), tmp_path=tmp_path)
    assert out.returncode == 2, out.stderr[-1000:]
    err = out.stderr
    assert "invalid devices file" in err
    assert "device #2 (id 'bad id'): key 'id'" in err
    assert "device #2 (id 'bad id'): key 'kind'" in err
    assert "device #2 (id 'bad id'): key 'lat'" in err
    assert "device #3 (id 'ok-1'): key 'id': listed twice" in err
