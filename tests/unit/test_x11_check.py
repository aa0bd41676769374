"""Missing X libraries are named, with their Debian/Ubuntu packages, before Qt starts.

The missing library is real: a shared object built here (gcc) that needs a library deleted after
linking, so the dynamic loader really cannot find it. Only PySide6's location is a stand-in (a
folder on PYTHONPATH holding that object as Qt/plugins/platforms/libqxcb.so): the libraries of
this machine's real Qt plugin are all installed, and that cannot be undone from a test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from vigie.app import x11_check

ABSENT = "libvigie-test-absent.so.1"

needs_gcc = pytest.mark.skipif(
    shutil.which("gcc") is None or shutil.which("ldd") is None, reason="needs gcc and ldd"
)


def build_plugin(where: Path) -> Path:
    """A shared object that needs ABSENT (linked against a stub that is then deleted)."""
    where.mkdir(parents=True, exist_ok=True)
    stub_src, plug_src = where / "stub.c", where / "plugin.c"
    stub_src.write_text("int vigie_absent(void) { return 1; }\n")
    plug_src.write_text("int vigie_absent(void);\nint plugin(void) { return vigie_absent(); }\n")
    stub = where / ABSENT
    subprocess.run(
        ["gcc", "-shared", "-fPIC", f"-Wl,-soname,{ABSENT}", "-o", str(stub), str(stub_src)], check=True
    )
    plugin = where / "libqxcb.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(plugin), str(plug_src), str(stub), "-Wl,--no-as-needed"],
        check=True,
    )
    stub.unlink()  # now the loader cannot find it
    return plugin


def test_which_platform_uses_xcb() -> None:
    assert x11_check.uses_xcb({"DISPLAY": ":0"})
    assert x11_check.uses_xcb({"QT_QPA_PLATFORM": "xcb"})
    assert not x11_check.uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"})
    assert not x11_check.uses_xcb({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"})
    assert not x11_check.uses_xcb({})


def test_advice_names_the_debian_packages() -> None:
    text = x11_check.advice(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"])
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in text
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1, libxcb-cursor.so.0" in text


@needs_gcc
def test_a_missing_library_of_the_plugin_is_found(tmp_path: Path) -> None:
    plugin = build_plugin(tmp_path)
    assert x11_check.missing_libraries(plugin) == [ABSENT]
    assert x11_check.check({"DISPLAY": ":0"}, plugin) is not None
    assert x11_check.check({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, plugin) is None


@needs_gcc
def test_vigie_demo_exits_2_naming_the_missing_library_before_qt_starts(tmp_path: Path) -> None:
    fake = tmp_path / "site"
    (fake / "PySide6").mkdir(parents=True)
    (fake / "PySide6" / "__init__.py").write_text("raise ImportError('the stand-in is never imported')\n")
    build_plugin(fake / "PySide6" / "Qt" / "plugins" / "platforms")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":99", PYTHONPATH=f"{fake}{os.pathsep}{ROOT}")
    done = subprocess.run(
        [sys.executable, "-m", "vigie.app", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"missing libraries {ABSENT}" in done.stderr
    assert "the stand-in is never imported" not in done.stderr
