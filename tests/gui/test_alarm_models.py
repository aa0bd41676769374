"""Alarm store and lists on their own: order, blinking, typed filter, counts, flood rate."""

from __future__ import annotations

import dataclasses
import time

from PySide6.QtCore import Qt

from vigie.app.models.alarms import AlarmStore, AlarmTableModel
from vigie.app.models.records import AlarmRecord


def alarm(i: int, priority: int, state: str = "unack_active", raised: float | None = None) -> AlarmRecord:
    return AlarmRecord(
        f"alm-{i}",
        f"a{i}:cause",
        f"a{i}",
        f"Asset {i}",
        "bollard",
        "Centre-Ville",
        47.3,
        5.0,
        priority,
        "forced",
        f"Bollard forced #{i}",
        state,
        state in ("unack_active", "ack_active"),
        state in ("ack_active", "normal"),
        raised or time.time() - i,
        0.0,
        0.0,
        "",
        "",
        0.0,
        "",
        ["cam-0001"],
        1,
        False,
        i,
        time.time(),
    )


def test_live_list_order_filter_and_blink(qtbot):
    store = AlarmStore()
    live = AlarmTableModel(lambda a: a.state in ("unack_active", "ack_active", "rtn_unack"))
    store.sig_changed.connect(lambda _ids: live.set_alarms(store.alarms.values()))
    raised: list[list[AlarmRecord]] = []
    store.sig_raised.connect(raised.append)
    store.reset([alarm(1, 3), alarm(2, 1), alarm(3, 1), alarm(4, 2, "ack_active")], 4)
    assert [live.id_at(r) for r in range(live.rowCount())] == ["alm-2", "alm-3", "alm-4", "alm-1"]
    store.apply([alarm(5, 1, raised=time.time())], 5)  # newest P1 goes on top
    assert live.id_at(0) == "alm-5" and raised and raised[-1][0].id == "alm-5"
    store.apply(
        [dataclasses.replace(store.alarms["alm-5"], state="normal", active=False, acknowledged=True)], 6
    )
    assert live.row_of("alm-5") == -1 and "alm-5" not in store.alarms, "closed alarms leave the live list"
    # Unacknowledged icons blink; acknowledged ones do not.
    unacked, acked = live.index(live.row_of("alm-2"), 0), live.index(live.row_of("alm-4"), 0)
    on = (
        live.data(unacked, Qt.ItemDataRole.DecorationRole),
        live.data(acked, Qt.ItemDataRole.DecorationRole),
    )
    live._toggle_blink()
    off = (
        live.data(unacked, Qt.ItemDataRole.DecorationRole),
        live.data(acked, Qt.ItemDataRole.DecorationRole),
    )
    assert on[0].cacheKey() != off[0].cacheKey() and on[1].cacheKey() == off[1].cacheKey()
    live.set_text("#3")
    assert [live.id_at(r) for r in range(live.rowCount())] == ["alm-3"]
    live.set_text("")
    assert live.rowCount() == 4
    counts = store.counts()
    assert (counts["p1"], counts["p2"], counts["p3"], counts["unack"]) == (2, 1, 1, 3)


def test_journal_is_newest_first_and_flood_rate_counts_new_alarms(qtbot):
    journal = AlarmTableModel(lambda a: True, blink=False, newest_first=True)
    journal.set_alarms([alarm(1, 4), alarm(2, 1), alarm(3, 2, "normal")])
    assert [journal.id_at(r) for r in range(3)] == ["alm-1", "alm-2", "alm-3"]
    store = AlarmStore()
    store.reset([], 0)
    store.apply([alarm(i, 2) for i in range(12)], 12)
    assert store.rate() == 12
