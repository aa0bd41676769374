"""The console's log file (app/logfile.py), in a child process so the test's own logging and
crash handler stay as they are: log lines land in the rotating file under the given log dir
(0600), a native crash (a real SIGSEGV) writes its Python stacks into that same file, and
`vigie --version` prints the installed version."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_log_lines_and_a_native_crash_land_in_the_log_file(tmp_path: Path):
    script = textwrap.dedent(
        f"""
        import ctypes, logging
        from pathlib import Path
        from vigie.app import logfile
        path = logfile.install("INFO", Path({str(tmp_path)!r}))
        logging.getLogger("vigie.test").warning("a line for the file")
        ctypes.string_at(0)  # a real segmentation fault in native code
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode < 0 or done.returncode == 139, (done.returncode, done.stderr)  # killed by SIGSEGV
    log = tmp_path / "vigie.log"
    text = log.read_text()
    assert "WARNING vigie.test: a line for the file" in text
    assert "Fatal Python error: Segmentation fault" in text and "string_at" in text
    assert log.stat().st_mode & 0o777 == 0o600


def test_vigie_version():
    done = subprocess.run(
        [sys.executable, "-m", "vigie.app", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:  # no __main__ in the package: the console script
        done = subprocess.run(
            [str(Path(sys.executable).with_name("vigie")), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.stdout.strip() == f"vigie {version('vigie')}"
    backend = subprocess.run(
        [sys.executable, "-m", "vigie.backend", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert backend.stdout.strip() == f"vigie-backend {version('vigie')}"
