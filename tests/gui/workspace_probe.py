"""Runs a console with workspaces in its own process (multi-screen offscreen configurations need their
own QApplication) and reports what is where.

    QT_QPA_PLATFORM=offscreen:configfile=screens.json python -m tests.gui.workspace_probe \
        --backend HOST:PORT start dump screens:screens2.json dump save:Name shutdown

Steps: `start[:NAME]` (the last arrangement, or proposed; or a workspace by name), `open:NAME`,
`save:NAME`, `dump` (prints one line `PROBE {json}`: the manager's describe() and the captured
workspace), `screens:FILE` (change the screens at run time to FILE's offscreen configuration),
`present:ROLE:mosaic|map|shared|off`, `float:PANEL:X,Y,W,H` (float a panel, as a drag would, to that absolute
place), `mosaic:PANEL:LAYOUT`, `map:LAT,LON,ZOOM` (waits until the map reports that view),
`shot:DIR` (one PNG per screen), `cameras` (waits until every mosaic tile shows pictures),
`shutdown` (saves the last arrangement). Each step waits until the windows stop moving.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu --js-flags=--expose-gc")

from PySide6.QtCore import QCoreApplication, QEvent, QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from vigie.widgets.map.mbtiles import register_url_schemes


def settle(manager, timeout: float = 60.0, until=None) -> None:
    """Let Qt deliver what the last step caused: poll until the placement is the same three times
    in a row (and `until()` holds), or the deadline passes."""
    deadline = time.monotonic() + timeout
    last, same = None, 0
    while time.monotonic() < deadline:
        QTest.qWait(100)
        now = json.dumps(manager.describe(), sort_keys=True)
        same = same + 1 if now == last else 0
        last = now
        if same >= 3 and (until is None or until()):
            return
    if until is not None and not until():
        where = getattr(getattr(until, "__code__", None), "co_firstlineno", "?")
        raise TimeoutError(f"the console did not get there in {timeout:.0f} s (the wait of line {where})")


def map_page_report(events: list) -> str:
    """Why the map may not be ready: its page's loads and renderer ends, and the QtWebEngine
    processes alive now (a renderer that never started showed as a zygote's dead child)."""
    ps = subprocess.run(["ps", "-eo", "pid,ppid,stat,etime,args"], capture_output=True, text=True).stdout
    me = str(os.getpid())
    procs = [line[:160] for line in ps.splitlines() if "WebEngine" in line or me in line.split()[:2]]
    ends = [e for e in events if isinstance(e, tuple) and e[0] == "terminated"]
    return "\n".join(
        [f"map page: {len(events)} events, first {events[:6]}; renderer ended {len(ends)} times", *procs]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--backend", required=True)
    p.add_argument("--fps", type=float, default=2.0, help="what mosaic tiles ask for (spare the shared CPU)")
    p.add_argument("steps", nargs="+")
    args = p.parse_args(argv)

    register_url_schemes()
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication(sys.argv[:1])
    app.setOrganizationName("Vigie")
    app.setApplicationName("Vigie")

    from tests.gui.offscreen_screens import OffscreenScreens
    from vigie.app.auth import Credentials
    from vigie.app.console import Console
    from vigie.app.session import Session
    from vigie.app.theme import apply_theme
    from vigie.app.workspace.files import WorkspaceStore, to_json
    from vigie.app.workspace.manager import WorkspaceManager
    from vigie.app.workspace.screenshot import write_screenshots

    apply_theme(app)
    session = Session(args.backend, credentials=Credentials("operator", "operator", console="probe"))
    console = Console(session, max_fps=args.fps)
    manager = WorkspaceManager(console, WorkspaceStore(), remember=True)
    web_events: list = []  # what the map's page went through (reported if it never gets ready)

    def watch_map_page() -> None:
        view = console.map_ctl.view if console.map_ctl is not None else None
        if view is None or getattr(view, "_probe_watched", False):
            return
        view._probe_watched = True
        view.web.loadProgress.connect(lambda n: web_events.append(n))
        view.web.loadFinished.connect(lambda ok: web_events.append(("finished", ok)))
        view.page.renderProcessTerminated.connect(
            lambda status, code: web_events.append(("terminated", str(status), code))
        )

    session.start()
    code = 0
    try:
        for step in args.steps:
            cmd, _, arg = step.partition(":")
            if cmd == "start":
                manager.start(arg or None)
                watch_map_page()
            elif cmd == "open":
                manager.open(arg)
            elif cmd == "save":
                manager.save_as(arg)
            elif cmd == "dump":
                # Mosaics show their saved cameras once the camera list has arrived (later than
                # the windows settle, on a loaded machine): dump what the operator would see.
                settle(manager, 30, until=lambda: all(any(c.mosaic.cameras) for c in console.mosaic_ctls))
                out = {"describe": manager.describe(), "workspace": to_json(manager.capture())}
                print("PROBE " + json.dumps(out), flush=True)
                continue
            elif cmd == "screens":
                OffscreenScreens().set(json.loads(Path(arg).read_text()))
            elif cmd == "present":
                role, _, content = arg.partition(":")
                manager.set_presentation(role, None if content == "off" else content)
            elif cmd == "float":
                pid, _, rect = arg.partition(":")
                dock = manager.docks[pid]
                dock.setFloating()
                fc = dock.floatingDockContainer()
                x, y, w, h = (int(v) for v in rect.split(","))
                screen = app.screenAt(QRect(x, y, w, h).center())
                fc.setScreen(screen)
                fc.setGeometry(x, y, w, h)
            elif cmd == "mosaic":
                pid, _, layout = arg.partition(":")
                # Once its cameras are placed: a camera list arriving later would put the mosaic
                # back to the layout it was made with.
                settle(manager, 30, until=lambda: all(any(c.mosaic.cameras) for c in console.mosaic_ctls))
                manager.panels[pid].panel.mosaic.set_layout(layout)
            elif cmd == "map":
                lat, lon, zoom = (float(v) for v in arg.split(","))
                ctl = console.map_ctl
                try:
                    settle(manager, 30, until=lambda ctl=ctl: ctl.view.ready)
                except TimeoutError:
                    print(map_page_report(web_events), file=sys.stderr, flush=True)
                    raise
                ctl.view.set_view({"lat": lat, "lon": lon, "zoom": zoom})

                def arrived(ctl=ctl, lat=lat, zoom=zoom) -> bool:
                    v = ctl.current_view
                    return bool(v) and abs(v["lat"] - lat) < 1e-4 and v["zoom"] == zoom

                settle(manager, 30, until=arrived)
                continue
            elif cmd == "cameras":
                tiles = [
                    ctl.mosaic.tiles[s] for ctl in console.mosaic_ctls for s in ctl.mosaic.visible_slots()
                ]
                settle(manager, 60, until=lambda tiles=tiles: all(t.frames >= 2 for t in tiles))
                continue
            elif cmd == "shot":
                for path in write_screenshots(manager, Path(arg)):
                    print(f"PNG {path}", flush=True)
                continue
            elif cmd == "shutdown":
                manager.shutdown()
                continue
            else:
                raise SystemExit(f"unknown step {step!r}")
            settle(manager)
    except Exception as exc:  # reported to the test, which shows stderr
        print(f"probe failed: {exc!r}", file=sys.stderr)
        code = 1
    finally:
        manager.shutdown()
        console.stop()
        session.stop()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    return code


if __name__ == "__main__":
    sys.exit(main())
