"""Every selection path decides what the detail may do: "Command…" follows the asset shown, never
the state left by the previous selection (a door forced could not be commanded from its alarm)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTableView

from tests.gui.console_harness import ConsoleHarness

# Kinds the backend offers no action for (backend/domain/actions.py ACTIONS), as the test knows them.
NOT_COMMANDABLE = {"delivery_bay", "tram_station"}  # water sensors (Flood) and trams have commands now


def click_row(qtbot, view: QTableView, row: int) -> None:
    view.scrollTo(view.model().index(row, 0))
    rect = view.visualRect(view.model().index(row, 1))
    QTest.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )


def click_asset(qtbot, window: ConsoleHarness, asset_id: str) -> None:
    """Type the asset's id in the asset search box, then click its row."""
    search = window.asset_panel.search
    search.clear()
    QTest.keyClicks(search, asset_id)
    model = window.asset_panel.table.model()
    qtbot.waitUntil(lambda: any(model.id_at(r) == asset_id for r in range(model.rowCount())), timeout=5000)
    row = next(r for r in range(model.rowCount()) if model.id_at(r) == asset_id)
    click_row(qtbot, window.asset_panel.table, row)
    qtbot.waitUntil(lambda: window.detail_ctl.asset_id == asset_id, timeout=5000)


def click_alarm(qtbot, window: ConsoleHarness, asset_id: str) -> None:
    """Type the asset's id in the alarm filter, then click that asset's alarm row."""
    panel = window.alarm_ctl.panel
    panel.filter.clear()
    QTest.keyClicks(panel.filter, asset_id)
    model = window.alarm_ctl.active

    def row() -> int:
        return next(
            (r for r in range(model.rowCount()) if model.alarm(model.id_at(r)).asset_id == asset_id), -1
        )

    qtbot.waitUntil(lambda: row() >= 0, timeout=5000)
    click_row(qtbot, panel.active, row())
    qtbot.waitUntil(lambda: window.detail_ctl.asset_id == asset_id, timeout=5000)


def alarmed(window: ConsoleHarness, kinds: set[str]) -> str:
    """An asset of one of `kinds` with an open, unshelved alarm that will last a while."""
    for a in sorted(window.alarm_ctl.store.alarms.values(), key=lambda a: -a.raised_at):
        if a.asset_kind in kinds and a.state in ("unack_active", "ack_active"):
            return a.asset_id
    return ""


def test_command_follows_the_asset_shown_whatever_the_selection_path(qtbot, make_backend, tmp_path):
    backend = make_backend("--seed", "5", "--alarm-rate", "20", "--data-dir", str(tmp_path / "data")).start()
    window = ConsoleHarness(backend.address, size=(1800, 1000)).start()
    try:
        qtbot.waitUntil(
            lambda: (
                window.assets.total() > 5900
                and bool(window.command_ctl.actions)
                and bool(alarmed(window, {"access_point"}))
                and bool(alarmed(window, NOT_COMMANDABLE))
            ),
            timeout=60000,
        )
        button = window.detail.command_button
        records = list(window.assets.records())
        sensor = next(r.id for r in records if r.kind == "delivery_bay")
        light = next(r.id for r in records if r.kind == "street_light")

        # An asset that cannot be commanded, then the alarm of a door: the door can be commanded.
        click_asset(qtbot, window, sensor)
        assert not button.isEnabled()
        door = alarmed(window, {"access_point"})
        click_alarm(qtbot, window, door)
        assert button.isEnabled(), "the alarm's door may be commanded"

        # The reverse: a commandable asset, then the alarm of one that cannot be commanded.
        click_asset(qtbot, window, light)
        assert button.isEnabled()
        other = alarmed(window, NOT_COMMANDABLE)
        click_alarm(qtbot, window, other)
        assert not button.isEnabled(), f"{other} cannot be commanded"
    finally:
        window.close()
