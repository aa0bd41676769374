"""vigie-backend refuses to serve plaintext beyond loopback unless told --insecure, and refuses a
bad --wall configuration: exit status 2 with a clear message, before anything is served."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, login
from vigie.backend.cli import is_loopback


def run_backend(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigie.backend", "--data-dir", str(tmp_path / "data"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("listen", ["0.0.0.0:0", "[::]:0", "192.0.2.10:50051", "backend.example:50051"])
def test_plaintext_beyond_loopback_is_refused(tmp_path, listen):
    done = run_backend(tmp_path, "--listen", listen)
    assert done.returncode == 2
    assert f"refusing to serve plaintext on {listen}" in done.stderr
    assert "--insecure" in done.stderr and "--tls-cert" in done.stderr
    assert not (tmp_path / "data").exists(), "refused before touching the data directory"


@pytest.mark.parametrize(
    ("listen", "loopback"),
    [
        ("127.0.0.1:50051", True),
        ("127.8.9.10:1", True),
        ("localhost:50051", True),
        ("[::1]:50051", True),
        ("unix:/run/vigie.sock", True),
        ("0.0.0.0:50051", False),
        ("[::]:50051", False),
        ("10.1.2.3:50051", False),
        ("example.org:50051", False),
    ],
)
def test_loopback_addresses(listen, loopback):
    assert is_loopback(listen) is loopback


def test_insecure_serves_on_every_address(make_backend):
    b = make_backend("--listen", "0.0.0.0:0", "--insecure", "--lights", "0", "--vehicles", "0").start()
    assert login(b.address, "viewer").user == "viewer"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--wall", "wall-1"], "expected NAME=DISPLAY"),
        (["--wall", "bad name=pc"], "wall name"),
        (["--wall", "wall-1="], "allowed display"),
        (["--wall", "wall-1=pc", "--wall", "wall-1=pc2"], "given twice"),
        (["--wall", "a=pc", "--wall", "b=pc", "--max-walls", "1"], "2 --wall for --max-walls 1"),
    ],
)
def test_a_bad_wall_configuration_is_refused(tmp_path, args, needle):
    done = run_backend(tmp_path, *args)
    assert done.returncode == 2 and needle in done.stderr, done.stderr
