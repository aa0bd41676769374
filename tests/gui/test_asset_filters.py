"""Filtering assets (issue 19, item 6), in a console on a real backend, with real keys and clicks:
multi-word search (AND), column:word filters, status chips, the district → kind tree listing one
district's FAULT devices of every kind, the filters shown with one-click clear, a district click that
does not move the detail or the map; and rows that keep still under the mouse."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTableView

from tests.gui.console_harness import ConsoleHarness
from tests.gui.test_asset_model import record
from tests.gui.test_selection_rights import click_asset
from vigie.app.models.asset_table import COL, AssetTableModel
from vigie.widgets.status.palette import KIND_SINGULAR


def _shown(h: ConsoleHarness) -> set[str]:
    m = h.assets
    return {m.id_at(r) for r in range(m.rowCount())}


def _click_tree(qtbot, tree, index) -> None:
    tree.scrollTo(index)
    rect = tree.visualRect(index)
    QTest.mouseClick(
        tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )


def test_search_chips_district_tree_and_clear(qtbot, backend):
    h = ConsoleHarness(backend.address).start()
    try:
        qtbot.waitUntil(lambda: h.assets.total() > 1000, timeout=30000)
        panel = h.asset_panel
        records = list(h.store.records())

        def words_match(r, words) -> bool:  # the test's own reading of "every word somewhere"
            hay = [
                r.name.lower(),
                r.id.lower(),
                r.district.lower(),
                r.reason.lower(),
                r.status,
                KIND_SINGULAR.get(r.kind, r.kind).lower() + " " + r.kind,
            ]
            return all(any(w in f for f in hay) for w in words)

        # Two words, AND: the phrase matches nothing as one string, each word something.
        district = next(r.district for r in records if r.status == "fault")
        word = district.split()[0].lower()[:6]
        panel.search.setFocus()
        QTest.keyClicks(panel.search, f"fault {word}")
        expected = {r.id for r in records if words_match(r, ["fault", word])}
        assert expected
        qtbot.waitUntil(lambda: _shown(h) == expected, timeout=5000)
        assert panel.filters_bar.isVisible() and f"“fault {word}”" in panel.filters_label.text()

        # column:word keeps the word to one column.
        panel.search.selectAll()
        QTest.keyClicks(panel.search, f"district:{word}")
        expected = {r.id for r in records if word in r.district.lower()}
        qtbot.waitUntil(lambda: _shown(h) == expected, timeout=5000)

        # Clear: one click, everything back.
        QTest.mouseClick(panel.clear_filters, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: h.assets.rowCount() == h.assets.total(), timeout=5000)
        assert not panel.filters_bar.isVisible() and panel.search.text() == ""

        # Select an asset: the detail and the map are on it.
        chosen = next(r for r in records if r.district != district)
        click_asset(qtbot, h, chosen.id)
        QTest.mouseClick(panel.clear_filters, Qt.MouseButton.LeftButton)
        assert h.detail_ctl.asset_id == chosen.id

        # The tree by district, then kind: the district's node, then the FAULT chip.
        panel.grouping.setFocus()
        QTest.keyClick(panel.grouping, Qt.Key.Key_Down)
        assert panel.grouping.currentData() == "district"
        tree, model = panel.tree, panel.tree.model()
        root = model.index(0, 0)
        tree.expand(root)
        node = next(
            model.index(r, 0, root)
            for r in range(model.rowCount(root))
            if model.index(r, 0, root).data() == district
        )
        _click_tree(qtbot, tree, node)
        QTest.mouseClick(panel.chips["fault"], Qt.MouseButton.LeftButton)
        expected = {r.id for r in records if r.district == district and r.status == "fault"}
        qtbot.waitUntil(lambda: _shown(h) == expected, timeout=5000)
        kinds = {h.store.record(a).kind for a in expected}
        assert len(kinds) >= 1
        text = panel.filters_label.text()
        assert f"district {district}" in text and "status FAULT" in text
        # The district click and the chip moved neither the detail nor the map.
        assert h.detail_ctl.asset_id == chosen.id
        QTest.mouseClick(panel.clear_filters, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: h.assets.rowCount() == h.assets.total(), timeout=5000)
        assert not any(c.isChecked() for c in panel.chips.values())
    finally:
        h.close()


def test_rows_keep_still_while_pointed_at(qtbot):
    model = AssetTableModel()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    model.reset([record(i) for i in range(50)], 1)
    model.sort(COL["status"], Qt.SortOrder.AscendingOrder)
    before = [model.id_at(r) for r in range(model.rowCount())]
    last = before[-1]
    model.hold(True)  # the panel does this when the pointer enters the table
    model.queue_changes([dataclasses.replace(model.record(last), status="fault")], 2, 1)
    model.flush()
    assert [model.id_at(r) for r in range(model.rowCount())] == before, "a row moved under the mouse"
    assert model.record(last).status == "fault"  # the value itself is shown at once
    model.hold(False)
    qtbot.waitUntil(lambda: model.id_at(0) == last, timeout=5000)
