"""`vigie`: the console. `vigie --backend HOST:PORT[,HOST:PORT...]` connects to a running backend
(to another of the list when it dies);
`vigie demo` starts a simulated city in a child process and opens the console on it;
`vigie wall --name wall-1` is a video wall display: full screen, it shows what consoles push to it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from vigie.app.client.addresses import parse_backends

if TYPE_CHECKING:
    from vigie.app.auth import Credentials, TlsOptions
    from vigie.app.session import Session

WALL_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the sub-command (the sub-command's copy has no defaults,
    so `vigie --screenshot D demo` is not overwritten by demo's own default)."""

    def d(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--screenshot",
        metavar="DIR",
        default=d(None),
        help="render offscreen, write one PNG per screen into DIR (vigie-1.png, left to right), exit",
    )
    common.add_argument(
        "--after", type=float, default=d(6.0), metavar="SECONDS", help="wait this long before --screenshot"
    )
    common.add_argument(
        "--workspace",
        default=d(None),
        metavar="NAME",
        help="open this workspace (provided: 'Laptop demo', 'Operator 2 screens', 'Supervisor 3 screens', "
        "or one saved by name) instead of the last arrangement",
    )
    common.add_argument(
        "--screens",
        type=int,
        default=d(1),
        metavar="N",
        help="with --screenshot: render on N side-by-side full-HD offscreen screens (one PNG each)",
    )
    common.add_argument("--log-level", default=d("WARNING"))
    common.add_argument(
        "--tiles",
        default=d(None),
        metavar="URL_TEMPLATE|FILE.mbtiles",
        help="basemap tiles: an XYZ server template (https://gis.example/{z}/{x}/{y}.png) or a local MBTiles file",
    )
    common.add_argument(
        "--user",
        default=d(None),
        help="log in as this user (password from $VIGIE_PASSWORD, else asked); the demo logs in as operator",
    )
    common.add_argument(
        "--tls-ca", default=d(None), metavar="FILE", help="CA certificate of the backend (TLS)"
    )
    common.add_argument(
        "--tls-cert", default=d(None), metavar="FILE", help="this console's certificate, if the backend asks"
    )
    common.add_argument("--tls-key", default=d(None), metavar="FILE", help="the key of --tls-cert")
    common.add_argument(
        "--time-zone",
        default=d(None),
        metavar="ZONE",
        help="the city's IANA time zone for every time shown (default: the setting city/time_zone, "
        "else Europe/Paris); the demo's backend gets the same",
    )
    return common


def session_credentials(args: argparse.Namespace) -> Credentials | None:
    """Who the console logs in as: --user with $VIGIE_PASSWORD; the demo's users have their name as
    password; None: the login dialog asks."""
    from vigie.app.auth import Credentials

    user = args.user or ("operator" if args.command == "demo" else None)
    if not user:
        return None
    password = os.environ.get("VIGIE_PASSWORD") or (user if args.command == "demo" else "")
    return Credentials(user, password) if password else Credentials(user, "")


def tls_options(args: argparse.Namespace) -> TlsOptions | None:
    """TLS from the command line, else from the settings (tls/ca, tls/cert, tls/key)."""
    from PySide6.QtCore import QSettings

    from vigie.app.auth import TlsOptions

    s = QSettings()
    ca = args.tls_ca or s.value("tls/ca", "")
    if not ca:
        return None
    return TlsOptions(
        str(ca),
        str(args.tls_cert or s.value("tls/cert", "") or ""),
        str(args.tls_key or s.value("tls/key", "") or ""),
    )


BACKEND_HELP = (
    "the backend to connect to; several (replicas of one cluster), or a DNS name with several "
    "addresses: the console moves to another when its backend dies (app/client/addresses.py)"
)


def backend_list(text: str) -> str:
    """argparse check of --backend: one or more HOST:PORT, comma-separated."""
    try:
        parse_backends(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def console_version() -> str:
    """The installed vigie distribution's version (Help > Diagnostics shows it too)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vigie")
    except PackageNotFoundError:
        return "unknown (not installed)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="vigie", description=__doc__, parents=[_common_options(True)])
    p.add_argument("--version", action="version", version=f"%(prog)s {console_version()}")
    p.add_argument(
        "--backend",
        default="127.0.0.1:50051",
        type=backend_list,
        metavar="HOST:PORT[,HOST:PORT...]",
        help=BACKEND_HELP,
    )
    sub = p.add_subparsers(dest="command")
    demo = sub.add_parser(
        "demo", parents=[_common_options(False)], help="start a simulated city and open the console on it"
    )
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--lights", type=int, default=5000)
    demo.add_argument(
        "--fresh",
        action="store_true",
        help="a clean city: the backend gets a new, empty data dir (no alarms, audit or walls from "
        "earlier runs), removed when the demo ends",
    )
    demo.add_argument(
        "--cameras",
        metavar="FILE",
        help="a TOML camera catalogue (real RTSP/MJPEG/file cameras) for the backend",
    )
    wall = sub.add_parser(
        "wall",
        parents=[_common_options(False)],
        help="be a video wall display: full screen, showing what consoles push to the named wall",
    )
    wall.add_argument(
        "--name", required=True, help="the wall's name, e.g. wall-1 (1-64 of A-Z a-z 0-9 . _ -)"
    )
    wall.add_argument(
        "--backend",
        default=argparse.SUPPRESS,
        type=backend_list,
        metavar="HOST:PORT[,HOST:PORT...]",
        help=BACKEND_HELP,
    )
    wall.add_argument(
        "--screen",
        default=None,
        metavar="N|NAME",
        help="the screen to fill: its number (0 first) or its name",
    )
    wall.add_argument(
        "--display", default=None, help="how consoles see this display (default: the host name)"
    )
    verify = sub.add_parser(
        "verify-export",
        help="check an evidence export's files against its manifest's SHA-256 (no backend needed)",
    )
    verify.add_argument("folder", metavar="DIR", help="the export folder (holding manifest.json)")
    args = p.parse_args(argv)
    if args.after < 0:
        p.error("--after must not be negative")
    if args.command == "wall" and not WALL_NAME.fullmatch(args.name):
        p.error(f"--name {args.name!r}: 1-64 of A-Z a-z 0-9 . _ -")
    if not 1 <= args.screens <= 8:
        p.error("--screens must be between 1 and 8")
    if args.time_zone:
        from vigie.app.city_time import load

        try:
            load(args.time_zone)
        except ValueError as exc:
            p.error(f"--time-zone: {exc}")
    return args


def apply_time_zone(args: argparse.Namespace) -> str:
    """The city's zone for this console: --time-zone, else the setting, else Europe/Paris."""
    from PySide6.QtCore import QSettings

    from vigie.app import city_time

    name = args.time_zone or str(QSettings().value(city_time.SETTING, "") or "") or city_time.DEFAULT
    from vigie.widgets.charts.telemetry_chart import TelemetryChart

    try:
        city_time.set_zone(name)
    except ValueError as exc:
        logging.warning("setting %s: %s; using %s", city_time.SETTING, exc, city_time.DEFAULT)
        city_time.set_zone(city_time.DEFAULT)
    TelemetryChart.utc_offset_west = city_time.seconds_west  # the charts' time axes too
    return city_time.zone().key


def make_session(address: str, args: argparse.Namespace) -> Session:
    """The one place consoles and walls get their backend session: who logs in (--user and
    $VIGIE_PASSWORD; the demo's operator) and over what (TLS from the options or settings)."""
    from vigie.app.session import Session

    creds = session_credentials(args)
    if creds is not None and not creds.password:
        creds = None  # the login dialog asks
    return Session(address, credentials=creds, tls=tls_options(args))


def demo_walls() -> list[str]:
    """The demo backend's walls: one per screen role (so Screens ▸ Presentation: shared wall works on
    any screen) and wall-1..wall-4 for `vigie wall --name wall-N` processes, each allowed to the
    demo's users."""
    from vigie.app.workspace.screens import role_names

    users = ",".join(f"user:{u}" for u in ("viewer", "operator", "supervisor", "admin"))
    names = [*role_names(8), *(f"wall-{i}" for i in range(1, 5))]
    return [arg for name in names for arg in ("--wall", f"{name}={users}")]


def offscreen_config(screens: int) -> dict:
    """Qt's offscreen platform configuration: `screens` full-HD screens side by side (its default
    is one 800x800 screen), windows without fake frames (so a maximised window fills its screen)."""
    return {
        "windowFrameMargins": False,
        "screens": [
            {"name": f"offscreen-{i + 1}", "x": 1920 * i, "y": 0, "width": 1920, "height": 1080}
            for i in range(screens)
        ],
    }


def _offscreen_platform(screens: int) -> str:
    config = Path(tempfile.gettempdir()) / f"vigie-offscreen-{screens}x1080p.json"
    config.write_text(json.dumps(offscreen_config(screens)))
    return f"offscreen:configfile={config}"


def _prepare_environment(args: argparse.Namespace) -> None:
    """Pick the Qt platform before Qt loads: offscreen for screenshots or when there is no display."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if not platform and not args.screenshot and sys.platform.startswith("linux") and not display:
        print(
            "vigie: no display found; rendering offscreen and writing screenshots to ./screenshots "
            "(run on a desktop session to see the console)",
            file=sys.stderr,
        )
        args.screenshot = "screenshots"
    if args.screenshot and platform in ("", "offscreen"):
        os.environ["QT_QPA_PLATFORM"] = _offscreen_platform(args.screens)
    elif args.screens != 1:  # the user's own platform (e.g. offscreen:configfile=...) decides
        print(f"vigie: --screens ignored: QT_QPA_PLATFORM is {platform!r}", file=sys.stderr)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium (the map) refuses its sandbox when run as root, e.g. on a kiosk or in CI.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    if os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu")
    if not os.environ.get("VIGIE_NO_PAGE_GC"):  # bench/soak.py --no-page-gc measures without it
        add_chromium_flag("--js-flags=--expose-gc")


def add_chromium_flag(flag: str) -> None:
    """Append a Chromium flag to QTWEBENGINE_CHROMIUM_FLAGS, keeping what the user set.

    `--js-flags=--expose-gc` lets the map page collect its garbage itself (resources/map/map.js calls
    `gc()` periodically when it exists): an idle QtWebEngine renderer otherwise lets V8 and Blink
    garbage grow by about 28 MB a minute, which a forced collection gives back entirely."""
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "").split()
    if flag not in flags:
        os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join([*flags, flag])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "verify-export":  # no Qt, no backend: a plain check of files
        from vigie.app import verify_export

        return verify_export.main(args.folder)
    from vigie.app import malloc_policy

    malloc_policy.install()  # before any thread allocates: few glibc arenas, free pages returned
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from vigie.app import logfile

    try:
        logging.info("console log file: %s", logfile.install(args.log_level))
    except OSError as exc:  # a read-only home: the console still runs, logging to stderr only
        logging.warning("cannot write the console log file under %s: %s", logfile.log_dir(), exc)
    _prepare_environment(args)
    from vigie.app import x11_check

    problem = x11_check.check()  # before Qt: its own message names no package
    if problem:
        print(problem, file=sys.stderr)
        return 2

    from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from vigie.app import gc_policy
    from vigie.app.backend_process import BackendProcess
    from vigie.app.console import Console
    from vigie.app.controllers.map_view import tiles_setting
    from vigie.app.theme import apply_theme
    from vigie.app.workspace.files import WorkspaceError, WorkspaceStore
    from vigie.app.workspace.manager import WorkspaceManager
    from vigie.app.workspace.screenshot import write_screenshots
    from vigie.widgets.map.mbtiles import register_url_schemes

    if args.tiles:
        try:
            kind, where = tiles_setting(args.tiles)
        except ValueError as exc:
            print(f"vigie: {exc}", file=sys.stderr)
            return 2
        if kind == "mbtiles" and not Path(where).is_file():
            print(f"vigie: no MBTiles file at {where}", file=sys.stderr)
            return 2

    # QtWebEngine needs these before the application exists.
    register_url_schemes()
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication(sys.argv[:1])
    app.setOrganizationName("Vigie")
    app.setApplicationName("Vigie")
    apply_theme(app)
    zone = apply_time_zone(args)

    backend: BackendProcess | None = None
    fresh_dir = ""
    address = args.backend
    if args.command == "demo":
        extra = ["--seed", str(args.seed), "--lights", str(args.lights), "--demo-users", "--time-zone", zone]
        extra += demo_walls()
        if args.cameras:
            if not Path(args.cameras).is_file():
                print(f"vigie: no camera catalogue at {args.cameras}", file=sys.stderr)
                return 2
            extra += ["--cameras", str(Path(args.cameras).resolve())]
        if args.fresh:
            fresh_dir = tempfile.mkdtemp(prefix="vigie-demo-")  # 0700, new each time
            extra += ["--data-dir", fresh_dir]
        backend = BackendProcess(extra)
        backend.start()
        address = backend.address

    if args.command == "wall":
        return run_wall(args, app)

    session = make_session(address, args)  # the one place the console's session is made
    remember = not args.screenshot  # screenshots: the same picture every time, nothing saved
    console = Console(session, tiles=args.tiles)
    workspaces = WorkspaceManager(console, WorkspaceStore(), remember=remember)
    workspaces.sig_quit_requested.connect(lambda: app.exit(0))  # quit() would ask every window to close
    workspaces.sig_message.connect(console.sig_message)
    try:
        workspaces.start(args.workspace)
    except WorkspaceError as exc:
        print(f"vigie: {exc}", file=sys.stderr)
        workspaces.shutdown()
        if backend is not None:
            backend.stop()
        if fresh_dir:
            shutil.rmtree(fresh_dir, ignore_errors=True)
        return 2
    if backend is not None:
        # The demo's backend is ours: if it dies (a bad catalogue, a crash), say so instead of
        # showing "reconnecting" forever. Its own error went to the terminal.
        def check_backend() -> None:
            code = backend.proc.poll() if backend.proc else None
            if code is not None:
                watchdog.stop()
                console.sig_message.emit(f"The demo backend stopped (exit code {code}); see the terminal")

        watchdog = QTimer(console, interval=1000)
        watchdog.timeout.connect(check_backend)
        watchdog.start()
    gc_policy.install(console.assets.sig_reset)
    session.start()

    code = 0
    if args.screenshot:
        out = Path(args.screenshot)

        def shoot() -> None:
            nonlocal code
            try:
                for path in write_screenshots(workspaces, out):
                    print(path)
            except OSError as exc:
                print(f"vigie: {exc}", file=sys.stderr)
                code = 1
            app.exit(0)

        QTimer.singleShot(int(args.after * 1000), shoot)
    try:
        result = app.exec()
    finally:
        # Save the arrangement, stop the streams, and delete the windows (and the map's web page)
        # while Qt is still up: left to the interpreter's exit, QtWebEngine may tear its profile
        # down first and crash.
        workspaces.shutdown()
        console.stop()
        session.stop()
        if backend is not None:
            backend.stop()
        if fresh_dir:
            shutil.rmtree(fresh_dir, ignore_errors=True)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    return code or result


def _pick_screen(app: object, wanted: str | None) -> object:
    """The screen named or numbered `wanted` (None: the primary one); ValueError lists them."""
    screens = app.screens()  # type: ignore[attr-defined]
    if wanted is None:
        return app.primaryScreen()  # type: ignore[attr-defined]
    for i, screen in enumerate(screens):
        if wanted == str(i) or wanted == screen.name():
            return screen
    known = ", ".join(f"{i} ({s.name()})" for i, s in enumerate(screens))
    raise ValueError(f"no screen {wanted!r}; screens: {known}")


def run_wall(args: argparse.Namespace, app: object) -> int:
    """`vigie wall`: attach to the backend as wall `args.name` and show what is pushed to it."""
    from PySide6.QtCore import QCoreApplication, QEvent, QTimer

    from vigie.app import gc_policy
    from vigie.app.models.asset_table import AssetTableModel
    from vigie.app.wall.display import WallDisplay

    try:
        screen = _pick_screen(app, args.screen)
    except ValueError as exc:
        print(f"vigie wall: {exc}", file=sys.stderr)
        return 2
    session = make_session(args.backend, args)
    if session.credentials is None:
        print(
            "vigie wall: needs --user NAME with the password in $VIGIE_PASSWORD (a VIEWER is enough)",
            file=sys.stderr,
        )
        return 2
    assets = AssetTableModel()
    session.sig_snapshot.connect(assets.reset)
    session.sig_changes.connect(assets.queue_changes)
    display = WallDisplay(session, assets, name=args.name, tiles=args.tiles)
    display.follow(session)
    session.sig_login_required.connect(lambda reason: display.set_link("refused", reason))
    display.set_link("connecting")
    gc_policy.install(session.sig_snapshot)  # collections on this thread only (app/gc_policy.py)
    display.show_on(screen, full_screen=not args.screenshot)  # type: ignore[arg-type]
    session.start()
    session.attach_wall(args.name, display=args.display or socket.gethostname())

    # SIGTERM / Ctrl+C end the wall cleanly; Python only sees signals when it runs, hence the timer.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: app.quit())  # type: ignore[attr-defined]
    wake = QTimer(interval=300)
    wake.timeout.connect(lambda: None)
    wake.start()

    code = 0
    if args.screenshot:
        out = Path(args.screenshot)

        def shoot() -> None:
            nonlocal code
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"vigie-wall-{args.name}.png"
            if not display.grab().save(str(path)):
                code = 1
            print(path)
            app.quit()  # type: ignore[attr-defined]

        QTimer.singleShot(int(args.after * 1000), shoot)
    try:
        result = app.exec()  # type: ignore[attr-defined]
    finally:
        wake.stop()
        session.detach_wall(args.name)
        display.stop()
        session.stop()
        display.deleteLater()  # the map's web page goes while Qt is still up
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    return code or result
