"""Every backend the API tests start appends its log lines to one file (VIGIE_BACKEND_LOG_FILE,
the environment rule of backend/config.py, inherited by every backend process, whichever way a
test starts it); when the last API test is done, no line may hold a secret those tests used:
the passwords written in their sources, the camera URL credentials, every token the login
helper obtained, or any `Bearer <token>` value. A leak fails the run, naming the line."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import conftest as root_conftest

API_TESTS = Path(__file__).resolve().parent
# password="...", password=b"...\n": the literal passwords the API tests send.
PASSWORD_LITERAL = re.compile(r"""password\s*=\s*b?["']([^"'\\]{4,})""")
BEARER_VALUE = re.compile(r"(?i)bearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}")
DEMO_NAMES = {
    "viewer",
    "operator",
    "supervisor",
    "admin",
}  # demo passwords are the user names: logged as names


def secrets_in_sources() -> set[str]:
    """Passwords and camera credentials written in the API tests (user names excluded)."""
    found: set[str] = set()
    for path in API_TESTS.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found.update(m.group(1).strip() for m in PASSWORD_LITERAL.finditer(text))
    from tests.api.test_camera_secrets import SECRETS

    found.update(SECRETS)
    return {s for s in found if s not in DEMO_NAMES and len(s) >= 4}


@pytest.fixture(scope="session", autouse=True)
def backend_logs_hold_no_secret() -> Iterator[Path]:
    log_file = Path(tempfile.mkdtemp(prefix="vigie-test-logs-")) / "backends.log"
    os.environ["VIGIE_BACKEND_LOG_FILE"] = str(log_file)
    yield log_file
    del os.environ["VIGIE_BACKEND_LOG_FILE"]
    secrets = secrets_in_sources() | root_conftest.ISSUED_TOKENS
    assert len(secrets) >= 5, secrets  # the scan found what the tests use
    lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines() if log_file.exists() else []
    leaks = [
        (n, line)
        for n, line in enumerate(lines, 1)
        if BEARER_VALUE.search(line) or any(s in line for s in secrets)
    ]
    assert not leaks, f"secrets in {len(leaks)} backend log lines of {len(lines)} ({log_file}): {leaks[:5]}"
