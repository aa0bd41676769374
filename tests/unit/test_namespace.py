"""Everything installs under the one `vigie` namespace: no top-level app, widgets or backend.

Run from outside the checkout (the repository root is not on sys.path there), as an installed
package is: the console and the backend import, and no bare top-level package gets imported."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import vigie.app.cli, vigie.app.console, vigie.backend.cli, vigie.backend.server, vigie.widgets
from vigie.app.theme import RESOURCES
assert (RESOURCES / "map" / "index.html").is_file(), RESOURCES
bare = sorted(m for m in sys.modules if m.split(".")[0] in ("app", "widgets", "backend"))
assert not bare, bare
print("ok")
"""


def test_console_and_backend_import_only_under_vigie(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
