"""The console as the soak harness runs it: `vigie` itself (app/cli.py's main, with the arguments
given), plus, from outside the product, the in-process probe (bench/soak_probe.py), Qt object
counts and the scripted operator (bench/soak_operator.py).

A thread waits for the QApplication that app/cli.py creates, then hands the rest to the GUI thread
(QTimer.singleShot with the application as context); everything Qt happens there. Nothing here
reaches into the console's session or controllers: widgets are found by class and object names."""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.soak_probe import Probe

_latest: dict = {}  # the last Qt figures, written on the GUI thread, read by the probe's thread


def resize_counter() -> Callable[[], int]:
    """Counts the resizes of every web view (the map's): each one has the page redraw its canvases
    at the new size, garbage the renderer holds until the page's next gc (docs/soak.md), so the
    renderer's figures can be read against them. The returned function, called on the GUI thread,
    watches web views made since and says the count so far."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWebEngineWidgets import QWebEngineView
    from PySide6.QtWidgets import QApplication

    class Counter(QObject):
        count = 0

        def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Resize:
                self.count += 1
            return False

    counter = Counter()
    watched: set[int] = set()

    def watch() -> int:
        for top in QApplication.topLevelWidgets():  # typed: no wrapper for the other children
            for w in top.findChildren(QWebEngineView):
                if id(w) not in watched:
                    watched.add(id(w))
                    w.installEventFilter(counter)
        return counter.count

    return watch


def object_tree_lines(root: object) -> list[str]:
    """`root` and its descendants, one line each, as QObject.dumpObjectTree() prints them (a widget
    ends with its geometry, "<WxH+X+Y>", or "I" when hidden). Read through a message handler installed for the call: a
    walk with findChildren(QObject) makes a Python wrapper for every child Qt made in C++ (a rich
    QLabel's QTextDocument...), and shiboken keeps those wrappers after Qt deletes the objects: the
    soak's own sampling grew the console by ~2,000 wrappers in 10 minutes of acknowledgements."""
    from PySide6.QtCore import qInstallMessageHandler

    lines: list[str] = []
    previous = qInstallMessageHandler(lambda _mode, _context, message: lines.extend(message.splitlines()))
    try:
        root.dumpObjectTree()  # type: ignore[attr-defined]
    finally:
        qInstallMessageHandler(previous)
    return [line for line in lines if "::" in line]  # "Class::name": not another thread's warning


def qt_figures() -> dict:
    """Live QObjects under the top-level widgets (closed but undeleted dialogs included), widgets
    among them, and the Python wrappers shiboken keeps alive. GUI thread only; it makes no wrapper
    but the top-level widgets' (object_tree_lines says why)."""
    import re

    import shiboken6
    from PySide6.QtWidgets import QApplication

    tops = QApplication.topLevelWidgets()
    by_class: dict[str, int] = {}
    objects = widgets = 0
    widget = re.compile(r"(<-?\d+x-?\d+[+-]-?\d+[+-]-?\d+>| I)$")  # a widget's geometry, or I: hidden
    for w in tops:
        name = f"{type(w).__name__}:{w.objectName()}" if w.objectName() else type(w).__name__
        by_class[name] = by_class.get(name, 0) + 1
        lines = object_tree_lines(w)
        objects += len(lines)
        widgets += sum(1 for line in lines if widget.search(line))
    return {
        "top_level_by_class": by_class,
        "qobjects": objects,
        "qwidgets": widgets,
        "top_level_widgets": len(tops),
        "py_wrappers": len(shiboken6.Shiboken.getAllValidWrappers()),
    }


def _on_gui_thread(probe: Probe | None) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from bench.soak_operator import Operator

    app = QApplication.instance()
    interval = float(os.environ.get("VIGIE_SOAK_INTERVAL", "10"))
    step = float(os.environ.get("VIGIE_SOAK_STEP", "2"))
    only = [n for n in os.environ.get("VIGIE_SOAK_ONLY", "").split(",") if n]
    operator = Operator(step_s=step, parent=app, only=only or None)
    if os.environ.get("VIGIE_SOAK_OPERATOR", "1") == "1":
        operator.start()

    web_resizes = resize_counter()

    def refresh() -> None:
        _latest.update(qt_figures())
        _latest["web_resizes"] = web_resizes()
        _latest.update(operator.counts())

    # The probe samples here, on the GUI thread, not on a thread of its own: gc.get_objects()
    # holds a reference to every object, and whatever the GUI let go of meanwhile is then freed
    # where that list is dropped. A Qt object freed on another thread left a dangling timer, and
    # the console died (SIGSEGV in QTimerInfoList::activateTimers). The cost: a GUI pause of the
    # probe's length (probe_ms, ~100 ms) every `interval`.
    def sample() -> None:
        refresh()
        if probe is not None:
            probe.sample()

    timer = QTimer(app, interval=int(interval * 1000))
    timer.timeout.connect(sample)
    timer.start()


def _wait_for_app(probe: Probe | None) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + 120
    while QApplication.instance() is None:
        if time.monotonic() > deadline:
            print("soak_console: no QApplication after 120 s", file=sys.stderr, flush=True)
            return
        time.sleep(0.05)  # polling from a side thread: nothing to wait on before Qt exists
    app = QApplication.instance()
    QTimer.singleShot(0, app, lambda: _on_gui_thread(probe))


def _qt_messages() -> None:
    """Qt's warnings go to stderr as before; one about threads ("Timers cannot be started from
    another thread", "Cannot create children for a parent that is in a different thread") also
    gets the Python stack of the thread that caused it, which Qt alone cannot say."""
    import traceback

    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message: str) -> None:
        print(message, file=sys.stderr, flush=True)
        if "thread" in message.lower():
            name = threading.current_thread().name
            stack = "".join(traceback.format_stack()[:-1])
            print(f"  ^ in thread {name!r}:\n{stack}", file=sys.stderr, flush=True)

    qInstallMessageHandler(handler)


def main() -> int:
    _qt_messages()
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # see bench/soak_probe.py
    faulthandler.enable(all_threads=True)  # a crash (SIGSEGV...) leaves every thread's stack in console.log
    path = os.environ.get("VIGIE_SOAK_STATS")
    probe = Probe(path, extra=lambda: dict(_latest)) if path else None
    threading.Thread(target=_wait_for_app, args=(probe,), name="soak-wait-app", daemon=True).start()
    from vigie.app.cli import main as vigie_main

    return vigie_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
