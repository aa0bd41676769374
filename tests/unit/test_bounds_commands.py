"""The console's command bookkeeping is bounded: the controller keeps the latest state of the
newest COMMANDS_KEPT commands, and a closed command dialog is deleted and forgotten (its command
goes on) instead of staying a hidden top-level window."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from vigie.app.controllers.commands import COMMANDS_KEPT, CommandController
from vigie.app.models.assets import AssetStore
from vigie.app.models.commands import ActionInfo, CommandState, TargetState
from vigie.app.models.records import AssetRecord
from vigie.app.session import Session
from vigie.widgets.commands.command_dialog import CommandDialog


def _bollard(n: int) -> AssetRecord:
    return AssetRecord(f"bollard-{n}", "bollard", f"Bollard {n}", "Centre", 0.0, 0.0, "ok", "", 0.0, 0.0, 1)


def _controller() -> CommandController:
    session = Session("127.0.0.1:9")  # never started: nothing here reaches a backend
    assets = AssetStore()
    assets.reset([_bollard(n) for n in range(3)], 1)
    return CommandController(session, assets)


def test_the_controller_keeps_the_newest_commands_only(qtbot):
    ctl = _controller()
    total = COMMANDS_KEPT + 300
    for n in range(total):  # what the session's command client reports, twice per command
        for done in (False, True):
            state = CommandState(f"key-{n}", "RAISE", [TargetState("bollard-0", "SENT")], done=done)
            ctl.session.commands.sig_command.emit(state)
    assert len(ctl.commands) == COMMANDS_KEPT
    assert "key-0" not in ctl.commands
    assert ctl.commands[f"key-{total - 1}"].done


def test_a_closed_command_dialog_is_deleted_and_forgotten(qtbot):
    ctl = _controller()
    ctl.session.core.role = "OPERATOR"  # as after a login (the UI only shapes itself on it)
    ctl.actions = [ActionInfo(1, "BOLLARD_RAISE", "Raise", ("bollard",), False, ())]
    # Dialogs another test left behind are not this one's (compared by their C++ object).
    before = {
        shiboken6.getCppPointer(w)[0] for w in QApplication.topLevelWidgets() if isinstance(w, CommandDialog)
    }
    gone: list[int] = []
    for n in range(5):
        dialog = ctl.open_for(["bollard-0", "bollard-1"])
        assert isinstance(dialog, CommandDialog)
        qtbot.waitExposed(dialog)
        dialog.sig_send.emit(1, {}, "test", False)  # sent: the controller follows it for the dialog
        assert len(ctl._open) == 1
        dialog.destroyed.connect(lambda _=None, n=n: gone.append(n))
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda n=n: n in gone, timeout=10_000)  # deleted, not only hidden
        assert ctl._open == {}
    QApplication.sendPostedEvents()
    # (Python wrappers' ids change between calls, so other tests' widgets are not compared by id.)
    left = [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, CommandDialog) and shiboken6.getCppPointer(w)[0] not in before
    ]
    assert left == []
