"""The soak's Qt figures (bench/soak_console.py) count every QObject and widget without making a
Python wrapper for the children Qt makes in C++: shiboken keeps such wrappers after Qt deletes
the objects, so a walk with findChildren(QObject) every 10 s grew the very console it measured."""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QVBoxLayout, QWidget

from bench.soak_console import qt_figures


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def test_qt_figures_count_everything_and_leave_no_wrapper_behind(qtbot) -> None:
    top = QWidget()
    qtbot.addWidget(top)
    layout = QVBoxLayout(top)
    layout.addWidget(QPushButton("Acknowledge"))
    top.show()
    assert _alive(QTextDocument) == 0
    for i in range(30):  # an alarm's rich-text label, shown, sampled, then replaced
        label = QLabel(f"<b>P1</b> alarm <i>{i}</i>")
        layout.addWidget(label)
        QCoreApplication.processEvents()
        figures = qt_figures()
        label.deleteLater()
        del label
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    assert _alive(QTextDocument) == 0, "no wrapper for a label's own text document"

    label = QLabel("<b>P2</b> alarm")
    layout.addWidget(label)
    QLabel("hidden", top).hide()  # counted too
    QCoreApplication.processEvents()
    figures = qt_figures()
    tops = QApplication.topLevelWidgets()
    # What Qt itself says, walked here (after the figures: this walk makes the wrappers).
    assert figures["qobjects"] == sum(1 + len(t.findChildren(QObject)) for t in tops)
    assert figures["qwidgets"] == sum(1 + len(t.findChildren(QWidget)) for t in tops)
    assert figures["top_level_widgets"] == len(tops)
    assert figures["qobjects"] > figures["qwidgets"] > 2  # a rich label has non-widget children
