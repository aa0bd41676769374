"""The soak harness's scripted operator, run on the console's GUI thread (bench/soak_console.py).

Every `step_s` it does the next thing an operator does in a shift, with real input (QTest mouse
and key events on the widgets): select an alarm and acknowledge it (Space, or the
Acknowledge button when its window is not the active one), change the mosaic's
layout (arrow keys on its layout box), put cameras in the mosaic (search the asset table, double-
click a camera), open and close the command dialog (click "Command…", Escape), send the mosaic to
a wall (its "To wall" menu), and every few rounds switch workspace (a click on Workspace in the menu bar,
then on the workspace's name). `bench/soak.py --only` keeps some of these steps alone.

Widgets are found anew at every step, by class and object names and texts, since a workspace
switch rebuilds the windows; a step that finds nothing to act on is counted as skipped, one that
raises is counted as an error and printed."""

from __future__ import annotations

import sys
import traceback
from collections import Counter
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QLineEdit,
    QMenu,
    QMenuBar,
    QPushButton,
    QTableView,
    QToolButton,
    QWidget,
)

WORKSPACES = ("Operator 2 screens", "Laptop demo")
# One round of the operator's steps (methods of Operator below), in order.
ROUND = (
    "ack_alarm",
    "mosaic_layout",
    "camera_to_mosaic",
    "open_command",
    "close_command",
    "push_to_wall",
    "ack_alarm",
    "mosaic_layout",
    "switch_workspace",
)


def visible(widgets: list) -> list:
    return [w for w in widgets if w.isVisible()]


def by_class(name: str) -> list[QWidget]:
    """Visible widgets whose class (or a base class) is named `name`, in every window."""
    out = []
    for w in QApplication.allWidgets():
        if w.isVisible() and any(c.__name__ == name for c in type(w).__mro__):
            out.append(w)
    return out


def click_row(view: QAbstractItemView, row: int, double: bool = False) -> bool:
    model = view.model()
    if model is None or model.rowCount() <= row:
        return False
    index = model.index(row, 0)
    view.scrollTo(index)
    rect = view.visualRect(index)
    if not rect.isValid():
        return False
    (QTest.mouseDClick if double else QTest.mouseClick)(
        view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )
    return True


def type_into(edit: QLineEdit, text: str) -> None:
    edit.setFocus()
    QTest.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(edit, Qt.Key.Key_Delete)
    if text:
        QTest.keyClicks(edit, text)


class Operator(QObject):
    def __init__(
        self, step_s: float = 2.0, parent: QObject | None = None, only: list[str] | None = None
    ) -> None:
        """`only`: these steps alone, in their usual order (bench/soak.py --only): one action's
        cost measured apart from the others'. Workspaces are then switched at every turn."""
        super().__init__(parent)
        self.timer = QTimer(self, interval=int(step_s * 1000))
        self.timer.timeout.connect(self._step)
        self.steps: list[tuple[str, Callable[[], bool]]] = [(n, getattr(self, n)) for n in ROUND]
        if only:
            unknown = set(only) - set(ROUND)
            if unknown:
                raise ValueError(f"no such operator step: {sorted(unknown)}")
            self.steps = [(n, getattr(self, n)) for n in dict.fromkeys(ROUND) if n in only]
        self.switch_every = 1 if only else 3
        self.i = 0
        self.rounds = 0
        self.done: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.errors = 0
        self.switches = 0

    def start(self) -> None:
        self.timer.start()

    def counts(self) -> dict:
        done = sum(v for k, v in self.done.items() if k != "ack_by_space")
        out: dict = {"op_done": done, "op_skipped": sum(self.skipped.values())}
        out["op_errors"] = self.errors
        out["op_by_step"] = {k: [self.done[k], self.skipped[k]] for k in {n for n, _ in self.steps}}
        out["op_by_step"]["ack_by_space"] = [self.done["ack_by_space"], 0]
        return out

    def _step(self) -> None:
        name, fn = self.steps[self.i % len(self.steps)]
        self.i += 1
        if self.i % len(self.steps) == 0:
            self.rounds += 1
        try:
            (self.done if fn() else self.skipped)[name] += 1
        except Exception:  # a broken step is reported and counted, the soak goes on
            self.errors += 1
            print(f"soak operator: step {name} failed:", file=sys.stderr)
            traceback.print_exc()

    # ---- steps (each returns whether it acted) -------------------------------------------------

    def ack_alarm(self) -> bool:
        for panel in by_class("AlarmPanel"):
            for view in visible(panel.findChildren(QTableView)):
                model = view.model()
                if model is None or model.rowCount() == 0:
                    continue
                if not click_row(view, self.i % min(model.rowCount(), 20)):
                    continue
                if view.window().isActiveWindow():
                    view.setFocus()
                    QTest.keyClick(view, Qt.Key.Key_Space)  # a window shortcut: needs the active window
                    self.done["ack_by_space"] += 1
                    return True
                # Several windows and no window manager (Xvfb): the alarms' window may not be the
                # active one, and Space would go nowhere. The button does the same.
                for button in visible(panel.findChildren(QPushButton)):
                    if button.text().startswith("Acknowledge") and button.isEnabled():
                        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
                        return True
                return False
        return False

    def mosaic_layout(self) -> bool:
        for panel in by_class("MosaicPanel"):
            for box in visible(panel.findChildren(QComboBox)):
                if box.findText("3x3") < 0:
                    continue
                box.setFocus()
                # Down through the layouts, then back up: every layout is built and torn down.
                key = Qt.Key.Key_Down if (self.i // len(self.steps)) % 2 == 0 else Qt.Key.Key_Up
                QTest.keyClick(box, key)
                if box.currentIndex() in (0, box.count() - 1):
                    QTest.keyClick(box, Qt.Key.Key_Up if key == Qt.Key.Key_Down else Qt.Key.Key_Down)
                return True
        return False

    def _asset_search(self, text: str) -> tuple[QLineEdit, QTableView] | None:
        for panel in by_class("AssetPanel"):
            edits = [e for e in panel.findChildren(QLineEdit) if e.objectName() == "assetSearch"]
            tables = visible(panel.findChildren(QTableView))
            if edits and tables:
                type_into(edits[0], text)
                return edits[0], tables[0]
        return None

    def camera_to_mosaic(self) -> bool:
        found = self._asset_search("camera")
        if found is None:
            return False
        _edit, table = found
        return click_row(table, self.i % 25, double=True)

    def open_command(self) -> bool:
        found = self._asset_search("bollard")
        if found is None:
            return False
        _edit, table = found
        if not click_row(table, self.i % 10):
            return False
        for button in by_class("QPushButton"):
            assert isinstance(button, QPushButton)
            if button.text().startswith("Command") and button.isEnabled():
                QTest.mouseClick(button, Qt.MouseButton.LeftButton)
                return True
        return False

    def close_command(self) -> bool:
        closed = False
        for w in QApplication.topLevelWidgets():
            if w.objectName() == "commandDialog" and w.isVisible():
                QTest.keyClick(w, Qt.Key.Key_Escape)
                closed = True
        return closed

    def push_to_wall(self) -> bool:
        for panel in by_class("MosaicPanel"):
            for button in visible(panel.findChildren(QToolButton)):
                if button.text() != "To wall" or not button.isEnabled():
                    continue

                def pick() -> None:
                    # The menu runs its own event loop: this timer fires inside it.
                    menu = QApplication.activePopupWidget()
                    actions = [a for a in menu.actions() if a.isEnabled()] if menu else []
                    if menu is None or not actions:
                        if menu is not None:
                            menu.close()
                        return
                    rect = menu.actionGeometry(actions[self.i % len(actions)])
                    QTest.mouseClick(
                        menu, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
                    )

                QTimer.singleShot(300, self, pick)
                QTest.mouseClick(button, Qt.MouseButton.LeftButton)
                return True  # the menu is opened asynchronously on some platforms: counted as done
        return False

    def switch_workspace(self) -> bool:
        """Workspace ▸ <the other provided workspace>, clicked in a window's menu bar (the menu is
        filled when it opens). Every third round (unless alone: --only): rebuilding every window is heavy."""
        self.switches += 1
        if self.switches % self.switch_every:
            return False
        target = WORKSPACES[(self.switches // self.switch_every) % len(WORKSPACES)]
        for bar in by_class("QMenuBar"):
            assert isinstance(bar, QMenuBar)
            title = next((a for a in bar.actions() if a.text().replace("&", "") == "Workspace"), None)
            if title is None:
                continue

            def pick() -> None:
                menu = QApplication.activePopupWidget()
                if not isinstance(menu, QMenu):
                    return
                action = next((a for a in menu.actions() if a.text() == target), None)
                if action is None:
                    menu.close()
                    return
                rect = menu.actionGeometry(action)
                QTest.mouseClick(
                    menu, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
                )

            QTimer.singleShot(400, self, pick)
            QTest.mouseClick(
                bar,
                Qt.MouseButton.LeftButton,
                Qt.KeyboardModifier.NoModifier,
                bar.actionGeometry(title).center(),
            )
            return True
        return False
