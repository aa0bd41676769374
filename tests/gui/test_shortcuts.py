"""The shortcut registry (app/shortcuts.py): application-wide keys that work in every window, give
way to a widget that types, are listed by F1 and changed in its dialog, and are kept in settings."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QMainWindow, QPushButton, QVBoxLayout, QWidget

from vigie.app.shortcuts import SPECS, ShortcutRegistry


def _settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "keys.ini"), QSettings.Format.IniFormat)


def _window(qtbot, registry: ShortcutRegistry) -> tuple[QMainWindow, QLineEdit, QPushButton]:
    win = QMainWindow()
    body = QWidget()
    lay = QVBoxLayout(body)
    edit, button = QLineEdit(), QPushButton("press")
    lay.addWidget(edit)
    lay.addWidget(button)
    win.setCentralWidget(body)
    qtbot.addWidget(win)
    registry.attach(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)
    return win, edit, button


def test_every_main_action_has_a_key_and_no_two_share_one():
    names = {s.name for s in SPECS}
    wanted = {
        "alarm.next",
        "alarm.previous",
        "alarm.acknowledge",
        "alarm.shelve",
        "search.focus",
        "view.fullscreen",
        "mosaic.next_tile",
        "wall.send",
        "help.shortcuts",
        *(f"mosaic.layout.{n}" for n in range(1, 10)),
        *(f"ptz.{d}" for d in ("left", "right", "up", "down", "zoom_in", "zoom_out")),
    }
    assert wanted <= names
    keys = [(s.default, s.scope) for s in SPECS if s.default]
    assert len(keys) == len(set(keys)), "two actions on one key in one scope: neither would fire"
    assert all(s.default for s in SPECS if s.name in wanted)


def test_an_application_wide_key_works_in_every_window(qtbot, tmp_path):
    registry = ShortcutRegistry(_settings(tmp_path))
    fired: list[str] = []
    registry.action("alarm.next").triggered.connect(lambda: fired.append("next"))
    first, _, _ = _window(qtbot, registry)
    second, _, button = _window(qtbot, registry)
    for win in (first, second):
        win.activateWindow()
        qtbot.waitUntil(win.isActiveWindow, timeout=5000)
        button.setFocus() if win is second else win.centralWidget().setFocus()
        before = len(fired)
        QTest.keyClick(win.focusWidget() or win, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
        assert len(fired) == before + 1, f"Ctrl+Down did nothing in {win}"


def test_bare_keys_go_to_a_widget_that_types_or_presses(qtbot, tmp_path):
    registry = ShortcutRegistry(_settings(tmp_path))
    registry.set_keys("alarm.incident", QKeySequence("Space"))  # a bare key, application-wide
    acks: list[int] = []
    registry.action("alarm.incident").triggered.connect(lambda: acks.append(1))
    win, edit, button = _window(qtbot, registry)
    clicks: list[int] = []
    button.clicked.connect(lambda: clicks.append(1))
    edit.setFocus()
    QTest.keyClicks(edit, "a b")
    assert edit.text() == "a b" and acks == []
    button.setFocus()
    QTest.keyClick(button, Qt.Key.Key_Space)
    assert clicks == [1] and acks == []
    win.centralWidget().setFocus()
    QTest.keyClick(win.centralWidget(), Qt.Key.Key_Space)
    assert acks == [1]


def test_f1_lists_the_keys_and_a_changed_key_is_used_and_kept(qtbot, tmp_path):
    registry = ShortcutRegistry(_settings(tmp_path))
    registry.action("help.shortcuts").triggered.connect(lambda: registry.show_dialog())
    fired: list[int] = []
    registry.action("alarm.shelve").triggered.connect(lambda: fired.append(1))
    win, _, _ = _window(qtbot, registry)
    win.centralWidget().setFocus()
    QTest.keyClick(win.centralWidget(), Qt.Key.Key_F1)
    dialog = registry.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.addWidget(dialog)
    table = dialog.table
    titles = [table.item(r, 1).text() for r in range(table.rowCount())]
    row = titles.index("Shelve the selected alarms (asks for a reason)")
    assert table.item(row, 2).text() == "Ctrl+H"
    assert table.item(titles.index("Next alarm"), 2).text() == "Ctrl+Down"

    # Change Shelve to Ctrl+J: select its row by a click, press the keys in the editor, click Set.
    rect = table.visualRect(table.model().index(row, 1))
    QTest.mouseClick(
        table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )
    dialog.editor.setFocus()
    QTest.keyClick(dialog.editor, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    QTest.mouseClick(dialog.apply, Qt.MouseButton.LeftButton)
    assert table.item(row, 2).text() == "Ctrl+J"

    # A key another action has is refused, with the reason.
    QTest.mouseClick(
        table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )
    dialog.editor.setFocus()
    QTest.keyClick(dialog.editor, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    QTest.mouseClick(dialog.apply, Qt.MouseButton.LeftButton)
    assert "Next alarm" in dialog.status.text()
    assert table.item(row, 2).text() == "Ctrl+J"

    dialog.close()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)
    win.centralWidget().setFocus()
    QTest.keyClick(win.centralWidget(), Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    assert fired == []
    QTest.keyClick(win.centralWidget(), Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    assert fired == [1]

    # Kept: a new registry (the next start) reads Ctrl+J from the settings file.
    again = ShortcutRegistry(_settings(tmp_path))
    assert again.keys("alarm.shelve") == QKeySequence("Ctrl+J")
    assert again.keys("alarm.next") == QKeySequence("Ctrl+Down")


def test_console_keys_walk_the_alarms_search_and_list(qtbot, make_backend, tmp_path):
    """In a whole console: Ctrl+Down selects the next alarm (map and detail follow), Ctrl+Up goes
    back, Ctrl+F goes to the asset search, F1 lists the shortcuts; each from whatever has the focus."""
    from tests.gui.console_harness import ConsoleHarness

    backend = make_backend("--alarm-rate", "3", "--data-dir", str(tmp_path / "data")).start()
    h = ConsoleHarness(backend.address).start()
    try:
        model = h.alarm_ctl.active
        qtbot.waitUntil(lambda: model.rowCount() >= 2, timeout=60000)
        win = h.window
        win.activateWindow()
        qtbot.waitUntil(win.isActiveWindow, timeout=10000)
        h.asset_panel.tree.setFocus()  # somewhere else than the alarm list
        QTest.keyClick(h.asset_panel.tree, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
        view = h.alarm_ctl.panel.active
        first = model.id_at(0)
        qtbot.waitUntil(
            lambda: h.alarm_ctl.selected is not None and h.alarm_ctl.selected.id == first, timeout=5000
        )
        assert h.detail_ctl.asset_id == model.alarm(first).asset_id
        assert [model.id_at(i.row()) for i in view.selectionModel().selectedRows()] == [first]
        QTest.keyClick(view, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
        second = model.id_at(1)
        assert h.alarm_ctl.selected.id == second
        QTest.keyClick(view, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
        assert h.alarm_ctl.selected.id == first
        QTest.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        assert QApplication.focusWidget() is h.asset_panel.search
        QTest.keyClick(h.asset_panel.search, Qt.Key.Key_F1)
        dialog = h.shortcuts.dialog
        assert dialog is not None and dialog.isVisible() and dialog.table.rowCount() == len(SPECS)
        dialog.close()
    finally:
        h.close()
