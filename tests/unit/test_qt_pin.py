"""Guards the PySide6 pin: 6.12.0 on Python 3.11 loses a reference to None on every void C++
call and to True on every Signal.emit(), and aborts after a few thousand (bool_dealloc)."""

from __future__ import annotations

import subprocess
import sys

import PySide6

STRESS = """
from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

app = QCoreApplication([])

class Emitter(QObject):
    plain = Signal()
    flag = Signal(bool)

e = Emitter()
got = [0, 0]
e.plain.connect(lambda: got.__setitem__(0, got[0] + 1))
e.flag.connect(lambda v: got.__setitem__(1, got[1] + v))
for _ in range(100_000):
    e.plain.emit()
    e.flag.emit(True)
timer = QTimer()
obj = QObject()
for _ in range(100_000):
    timer.stop()            # void C++ calls
    obj.setObjectName("x")
print(got[0], got[1])
"""


def test_pyside6_is_the_pinned_version():
    assert PySide6.__version__ == "6.11.2", "see pyproject.toml before bumping PySide6"


def test_100k_signals_and_void_calls_do_not_crash():
    # In a child process: the failure mode is an abort that would take pytest down with it.
    res = subprocess.run([sys.executable, "-c", STRESS], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["100000", "100000"]
