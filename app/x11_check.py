"""Before Qt starts on X11: are the libraries of Qt's xcb platform plugin installed?

Without them Qt prints only "Could not load the Qt platform plugin "xcb"" and aborts. This names
the missing libraries and the Debian/Ubuntu packages that provide them (README.md lists them).
It asks the dynamic loader (`ldd` on the plugin: it resolves the whole dependency tree exactly as
Qt would), and without `ldd` tries to load the usual suspects one by one."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

# Library (soname) -> Debian/Ubuntu package, for what Qt's xcb plugin needs beyond a base system.
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


def uses_xcb(env: os._Environ[str] | dict[str, str]) -> bool:
    """Will Qt pick its xcb plugin? QT_QPA_PLATFORM=xcb, or unset with an X display (and no Wayland)."""
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":", 1)[0].split(";", 1)[0] == "xcb"
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def xcb_plugin() -> Path | None:
    """PySide6's libqxcb.so, located without importing Qt."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_libraries(plugin: Path) -> list[str]:
    """The sonames the loader cannot find for `plugin` (and its dependencies), in ldd's order."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return [name for name in XCB_PACKAGES if not _loadable(name)]
    out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30).stdout
    missing = []
    for line in out.splitlines():
        name, _, where = line.strip().partition(" => ")
        if where.strip() == "not found" and name not in missing:
            missing.append(name)
    return missing


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def advice(missing: list[str]) -> str:
    """What to tell the user: the missing libraries and the apt-get line that installs them."""
    packages = sorted({XCB_PACKAGES[m] for m in missing if m in XCB_PACKAGES})
    unknown = [m for m in missing if m not in XCB_PACKAGES]
    lines = [
        "vigie: Qt's X11 (xcb) platform plugin cannot start: missing libraries " + ", ".join(missing) + "."
    ]
    if packages:
        lines.append("On Debian/Ubuntu install them with:  sudo apt-get install " + " ".join(packages))
    if unknown:
        lines.append("Install the packages providing " + ", ".join(unknown) + ".")
    lines.append("(Or run headless: vigie demo --screenshot DIR, or QT_QPA_PLATFORM=offscreen.)")
    return "\n".join(lines)


def check(env: os._Environ[str] | dict[str, str] | None = None, plugin: Path | None = None) -> str | None:
    """None when Qt will not use xcb or its libraries are all there; else the message to print."""
    env = os.environ if env is None else env
    if not uses_xcb(env):
        return None
    plugin = plugin or xcb_plugin()
    if plugin is None:
        return None  # not a PySide6 wheel layout: let Qt speak for itself
    missing = missing_libraries(plugin)
    return advice(missing) if missing else None
