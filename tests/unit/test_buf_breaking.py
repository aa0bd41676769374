"""The API's checks (buf.yaml, docs/api.md): buf lint passes on protos/, and buf breaking catches
an incompatible change: a throwaway copy of the protos where GeoPoint's field number 2 is
reused for a new field is refused against the unchanged copy, while the unchanged copy passes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = Path(sys.executable).with_name("buf")

pytestmark = pytest.mark.skipif(not BUF.exists(), reason=f"no buf at {BUF}: install the dev extras (buf-bin)")


def buf(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BUF), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_buf_lint_passes_on_the_protos():
    done = buf("lint")
    assert done.returncode == 0, done.stdout + done.stderr


def test_reusing_a_field_number_is_a_breaking_change(tmp_path: Path):
    before, after = tmp_path / "before", tmp_path / "after"
    for copy in (before, after):
        shutil.copytree(
            ROOT / "protos", copy, ignore=shutil.ignore_patterns("*.py", "*.pyi", "__pycache__", ".gen-stamp")
        )
    common = after / "vigie" / "v1" / "common.proto"
    text = common.read_text()
    assert "  double lon = 2;\n" in text
    # lon is removed and its number handed to a new field: old readers would read it as lon.
    common.write_text(text.replace("  double lon = 2;\n", "  string label = 2;\n"))
    unchanged = buf("breaking", str(before), "--against", str(before))
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    broken = buf("breaking", str(after), "--against", str(before))
    assert broken.returncode != 0
    assert "common.proto" in broken.stdout and '"2"' in broken.stdout, broken.stdout
