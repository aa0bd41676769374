"""The walls panel's tooltips show display names as they are: plain text, never rich text (a
display name comes from whoever attached the wall)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QToolTip

from vigie.widgets.wall.walls_panel import WallsPanel

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
HOSTILE = '<img src="http://attacker.example/x.png"><b>evil</b>'


def test_a_display_name_in_a_tooltip_is_shown_as_plain_text(qtbot):
    model = QStandardItemModel(1, 3)
    for column in range(3):
        item = QStandardItem("wall-1" if column == 0 else "")
        item.setData("wall-1", NAME_ROLE)
        item.setData(f"wall-1: shown by {HOSTILE} since 10:00", Qt.ItemDataRole.ToolTipRole)
        model.setItem(0, column, item)
    panel = WallsPanel(model, NAME_ROLE)
    qtbot.addWidget(panel)
    panel.resize(600, 200)
    panel.show()
    qtbot.waitExposed(panel)
    viewport = panel.table.viewport()
    pos = panel.table.visualRect(model.index(0, 0)).center()
    # What Qt sends when the mouse rests on the cell (the offscreen platform has no hover timer).
    event = QHelpEvent(QEvent.Type.ToolTip, pos, viewport.mapToGlobal(pos))
    QApplication.sendEvent(viewport, event)
    qtbot.waitUntil(QToolTip.isVisible, timeout=5000)
    shown = QToolTip.text()
    assert '&lt;img src="http://attacker.example/x.png"&gt;&lt;b&gt;evil&lt;/b&gt;' in shown
    assert "<img" not in shown and "<b>" not in shown
    # Off the rows, no tooltip.
    QApplication.sendEvent(
        viewport, QHelpEvent(QEvent.Type.ToolTip, QPoint(5, 190), viewport.mapToGlobal(QPoint(5, 190)))
    )
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=5000)
