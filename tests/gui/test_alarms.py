"""The alarm console against a real backend raising alarms."""

from __future__ import annotations

import time

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTableView

from tests.api.test_alarms_service import StreamChecker
from tests.conftest import console_session, open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.app.controllers.alarms import AlarmController
from vigie.app.models.records import AlarmRecord
from vigie.app.session import Session
from vigie.v1 import alarms_pb2, alarms_pb2_grpc, assets_pb2


@pytest.fixture
def alarm_backend(make_backend, tmp_path):
    return make_backend("--alarm-rate", "5", "--data-dir", str(tmp_path / "data")).start()


@pytest.fixture
def consoles(qtbot):
    made: list[Session] = []

    def open_console(address: str, operator: str) -> AlarmController:
        session = console_session(address)
        ctl = AlarmController(session, operator=operator)
        qtbot.addWidget(ctl.panel)
        ctl.panel.resize(1200, 500)
        ctl.panel.show()
        session.start()
        made.append(session)
        return ctl

    yield open_console
    for session in made:
        session.stop()


def test_alarms_arrive_sorted_with_tone_and_counts(qtbot, consoles, alarm_backend):
    ctl = consoles(alarm_backend.address, "alice")
    qtbot.waitUntil(lambda: ctl.active.rowCount() >= 5, timeout=20000)
    rows = [ctl.active.alarm(ctl.active.id_at(r)) for r in range(ctl.active.rowCount())]
    keys = [(a.priority, -a.raised_at) for a in rows]
    assert keys == sorted(keys), "priority first, then newest"
    qtbot.waitUntil(lambda: ctl.tones >= 1, timeout=30000)  # some P1/P2 among them
    # The status bar's counts are the listed alarms, counted here by hand (no event in between).
    listed = [ctl.active.alarm(ctl.active.id_at(r)) for r in range(ctl.active.rowCount())]
    counts = ctl.store.counts()
    assert {p: counts[f"p{p}"] for p in (1, 2, 3, 4)} == {
        p: sum(a.priority == p for a in listed) for p in (1, 2, 3, 4)
    }
    assert counts["unack"] == sum(not a.acknowledged for a in listed)


@pytest.fixture
def still_backend(make_backend, tmp_path):
    """Alarms from device statuses only, in a still city: the lists do not move under the mouse."""
    return make_backend("--quiet-city", "--alarm-rate", "0", "--data-dir", str(tmp_path / "data")).start()


def click_row(qtbot, view: QTableView, model, alarm_id: str) -> None:
    """Select an alarm's row with a mouse click, as an operator does."""
    row = next(r for r in range(model.rowCount()) if model.id_at(r) == alarm_id)
    index = model.index(row, 1)
    view.scrollTo(index)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    selected = [model.id_at(i.row()) for i in view.selectionModel().selectedRows()]
    assert selected == [alarm_id], selected


def focus_window(qtbot, widget) -> None:
    """Shortcuts such as Space act in the active window only."""
    widget.activateWindow()
    qtbot.waitUntil(widget.isActiveWindow, timeout=10000)


def backend_alarm(address: str, alarm_id: str, asset_id: str) -> alarms_pb2.Alarm:
    """The alarm as the backend's journal has it (not as any console shows it)."""
    with open_channel(address, "viewer") as ch:
        stub = alarms_pb2_grpc.AlarmServiceStub(ch)
        found = stub.ListAlarms(alarms_pb2.ListAlarmsRequest(asset_ids=[asset_id]), timeout=10).alarms
    return next(a for a in found if a.id == alarm_id)


def test_space_acknowledges_the_clicked_alarm_and_another_console_sees_it(qtbot, consoles, still_backend):
    alice = consoles(still_backend.address, "alice")
    bob = consoles(still_backend.address, "bob")
    qtbot.waitUntil(lambda: any(not a.acknowledged for a in alice.store.alarms.values()), timeout=30000)
    target = next(a for a in alice.store.alarms.values() if a.state == "unack_active")
    qtbot.waitUntil(lambda: target.id in bob.store.alarms, timeout=30000)
    panel = alice.panel
    focus_window(qtbot, panel)
    click_row(qtbot, panel.active, alice.active, target.id)
    results: list[tuple[bool, str]] = []
    alice.session.sig_alarm_result.connect(lambda ok, msg: results.append((ok, msg)))
    QTest.keyClick(panel.active, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: bool(results), timeout=30000)
    assert results[0][0] is True, results

    def acked_on_bob() -> bool:
        a = bob.store.alarms.get(target.id)
        # The server records who is logged in, not what the request claims.
        return a is not None and a.acknowledged and a.acknowledged_by == "operator"

    qtbot.waitUntil(acked_on_bob, timeout=30000)  # generous: a loaded machine
    kept = backend_alarm(still_backend.address, target.id, target.asset_id)
    assert (kept.acknowledged, kept.acknowledged_by, kept.state) == (
        True,
        "operator",
        alarms_pb2.Alarm.ACK_ACTIVE,
    )


def test_enter_in_the_comment_acknowledges_with_that_comment(qtbot, consoles, still_backend):
    ctl = consoles(still_backend.address, "alice")
    qtbot.waitUntil(lambda: any(a.state == "unack_active" for a in ctl.store.alarms.values()), timeout=30000)
    target = next(a for a in ctl.store.alarms.values() if a.state == "unack_active")
    panel = ctl.panel
    click_row(qtbot, panel.active, ctl.active, target.id)
    QTest.mouseClick(panel.comment, Qt.MouseButton.LeftButton)
    QTest.keyClicks(panel.comment, "seen on camera 12")
    QTest.keyClick(panel.comment, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ctl.store.alarms[target.id].acknowledged, timeout=30000)
    kept = backend_alarm(still_backend.address, target.id, target.asset_id)
    assert (kept.acknowledged_by, kept.ack_comment) == ("operator", "seen on camera 12")
    assert panel.comment.text() == ""


def test_shelving_through_the_panel_needs_a_reason_and_sets_the_chosen_time(qtbot, consoles, still_backend):
    ctl = consoles(still_backend.address, "alice")
    qtbot.waitUntil(lambda: len(ctl.store.alarms) >= 2, timeout=30000)
    target = next(a for a in ctl.store.alarms.values() if a.state in ("unack_active", "ack_active"))
    panel = ctl.panel
    click_row(qtbot, panel.active, ctl.active, target.id)
    # Without a reason, Shelve does nothing but ask for one.
    QTest.mouseClick(panel.shelve, Qt.MouseButton.LeftButton)
    assert "required" in panel.reason.placeholderText() and panel.reason.hasFocus()
    # Second duration ("1 h") with the keyboard, then a reason, then Shelve.
    QTest.keyClick(panel.shelf_time, Qt.Key.Key_Down)
    assert panel.shelf_time.currentText() == "1 h"
    QTest.mouseClick(panel.reason, Qt.MouseButton.LeftButton)
    QTest.keyClicks(panel.reason, "sensor being replaced")
    before = time.time()
    QTest.mouseClick(panel.shelve, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.store.alarms[target.id].state == "shelved", timeout=30000)
    after = time.time()
    assert ctl.shelved.row_of(target.id) >= 0 and target.id not in [
        ctl.active.id_at(r) for r in range(ctl.active.rowCount())
    ]
    kept = backend_alarm(still_backend.address, target.id, target.asset_id)
    assert (kept.state, kept.shelve_reason, kept.shelved_by) == (
        alarms_pb2.Alarm.SHELVED,
        "sensor being replaced",
        "operator",
    )
    until = kept.shelved_until.ToNanoseconds() / 1e9
    assert before + 3600 - 1 <= until <= after + 3600 + 1
    assert panel.reason.text() == ""


def test_journal_pages_with_search_and_more(qtbot, consoles, make_backend, tmp_path):
    backend = make_backend("--alarm-rate", "50", "--data-dir", str(tmp_path / "data")).start()
    with open_channel(backend.address) as ch:
        stub = alarms_pb2_grpc.AlarmServiceStub(ch)

        def raised() -> int:
            return stub.ListAlarms(alarms_pb2.ListAlarmsRequest(page_size=1), timeout=10).total_size

        qtbot.waitUntil(lambda: raised() > 450, timeout=90000)
        ctl = consoles(backend.address, "alice")
        qtbot.waitUntil(lambda: ctl.store.sequence > 0, timeout=60000)  # logged in and watching
        panel = ctl.panel
        bar = panel.tabs.tabBar()
        QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(2).center())
        assert panel.tabs.currentIndex() == 2
        QTest.mouseClick(panel.search, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: ctl.journal.rowCount() == 200, timeout=30000)
        total = int(panel.results.text().split(" of ")[1].split()[0])
        assert panel.results.text() == f"200 of {total} alarms" and total > 450
        qtbot.waitUntil(panel.more.isEnabled, timeout=5000)
        QTest.mouseClick(panel.more, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: ctl.journal.rowCount() == 400, timeout=30000)
        # The total is counted again with each page (new alarms keep coming): it only grows.
        now_total = int(panel.results.text().split(" of ")[1].split()[0])
        assert panel.results.text() == f"400 of {now_total} alarms" and now_total >= total
        assert panel.more.isEnabled()
        shown = [ctl.journal.alarm(ctl.journal.id_at(r)) for r in range(400)]
        assert len({a.id for a in shown}) == 400
        # The same 400 as the backend's journal up to the newest one shown, newest first (alarms
        # raised in the same tick share a time: their order among themselves is not compared).
        end = Timestamp()
        end.FromNanoseconds(int(max(a.raised_at for a in shown) * 1e9) + 1000)
        first = stub.ListAlarms(alarms_pb2.ListAlarmsRequest(end=end, page_size=400), timeout=10).alarms
    assert {a.id for a in shown} == {a.id for a in first}
    times = [a.raised_at for a in shown]
    assert times == sorted(times, reverse=True)


def test_selecting_an_alarm_shows_map_and_cameras(qtbot, alarm_backend):
    window = ConsoleHarness(alarm_backend.address, size=(1800, 1000)).start()
    try:
        ctl = window.alarm_ctl
        qtbot.waitUntil(
            lambda: window.assets.total() > 5900 and any(a.camera_ids for a in ctl.store.alarms.values()),
            timeout=30000,
        )
        qtbot.waitUntil(lambda: bool(window.mosaic_ctl.cameras), timeout=20000)
        alarm = next(a for a in ctl.store.alarms.values() if a.camera_ids)
        ctl.panel.sig_selected.emit(alarm.id)
        mosaic = window.alarm_video_ctl.mosaic  # the alarm preview (tests/gui/test_alarm_video.py)
        assert alarm.camera_ids[0] in mosaic.cameras
        slot = mosaic.cameras.index(alarm.camera_ids[0])
        assert mosaic.tiles[slot].linked
        assert window.map._selected == alarm.asset_id and window.detail_ctl.asset_id == alarm.asset_id
        qtbot.waitUntil(lambda: mosaic.tiles[slot].frames >= 1, timeout=20000)
    finally:
        window.close()


class BackendView:
    """The backend's open alarms as of an exact sequence: a fresh WatchAlarms snapshot, then one
    change per message (max_batch=1) up to the sequence asked for. Open it before the console
    reaches that sequence (the snapshot must not be newer)."""

    def __init__(self, address: str) -> None:
        self.channel = open_channel(address, "viewer")
        stub = alarms_pb2_grpc.AlarmServiceStub(self.channel)
        self.stream = stub.WatchAlarms(alarms_pb2.WatchAlarmsRequest(max_batch=1), timeout=120)
        self.checker = StreamChecker()
        self.checker.read_snapshot(self.stream)

    def at(self, sequence: int) -> dict[str, alarms_pb2.Alarm]:
        c = self.checker
        assert c.sequence <= sequence, f"the snapshot ({c.sequence}) is newer than {sequence}"
        if c.sequence < sequence:
            c.read_until(self.stream, sequence)
        assert c.sequence == sequence
        return {i: a for i, a in c.alarms.items() if a.state != alarms_pb2.Alarm.NORMAL}

    def close(self) -> None:
        self.stream.cancel()
        self.channel.close()


def seconds(ts) -> float:  # a protobuf Timestamp; unset -> 0.0
    return ts.seconds + ts.nanos / 1e9


def differences(shown: AlarmRecord, ref: alarms_pb2.Alarm) -> list[str]:
    """Every field where the console's record differs from the backend's alarm (written out here,
    not with the console's own conversion)."""
    pairs = {
        "id": (shown.id, ref.id),
        "source_key": (shown.source_key, ref.source_key),
        "asset_id": (shown.asset_id, ref.asset_id),
        "asset_name": (shown.asset_name, ref.asset_name),
        "asset_kind": (shown.asset_kind, assets_pb2.Asset.Kind.Name(ref.asset_kind).lower()),
        "district": (shown.district, ref.district),
        "lat": (shown.lat, ref.position.lat),
        "lon": (shown.lon, ref.position.lon),
        "priority": (shown.priority, ref.priority),
        "cause": (shown.cause, ref.cause),
        "message": (shown.message, ref.message),
        "state": (shown.state, alarms_pb2.Alarm.State.Name(ref.state).lower()),
        "active": (shown.active, ref.active),
        "acknowledged": (shown.acknowledged, ref.acknowledged),
        "acknowledged_by": (shown.acknowledged_by, ref.acknowledged_by),
        "ack_comment": (shown.ack_comment, ref.ack_comment),
        "shelve_reason": (shown.shelve_reason, ref.shelve_reason),
        "camera_ids": (list(shown.camera_ids), list(ref.camera_ids)),
        "occurrences": (shown.occurrences, ref.occurrences),
        "chattering": (shown.chattering, ref.chattering),
        "sequence": (shown.sequence, ref.sequence),
    }
    out = [f"{k}: {a!r} != {b!r}" for k, (a, b) in pairs.items() if a != b]
    for k, ts in (
        ("raised_at", ref.raised_at),
        ("cleared_at", ref.cleared_at),
        ("acknowledged_at", ref.acknowledged_at),
        ("shelved_until", ref.shelved_until),
        ("updated_at", ref.updated_at),
    ):
        if abs(getattr(shown, k) - seconds(ts)) > 1e-6:
            out.append(f"{k}: {getattr(shown, k)!r} != {seconds(ts)!r}")
    return out


def assert_store_matches_backend(qtbot, ctl: AlarmController, view: BackendView) -> int:
    """The console's alarm store equals the backend's open alarms at the console's sequence, field
    by field. Returns that sequence."""
    qtbot.waitUntil(lambda: ctl.store.sequence >= view.checker.sequence, timeout=60000)
    # No Qt events are processed from here on: the store stays as it is while we compare.
    sequence, shown = ctl.store.sequence, dict(ctl.store.alarms)
    ref = view.at(sequence)
    assert sorted(shown) == sorted(ref), set(shown) ^ set(ref)
    wrong = {i: d for i in ref if (d := differences(shown[i], ref[i]))}
    assert not wrong, wrong
    return sequence


def test_console_resumes_its_alarms_after_a_backend_restart_without_reloading(
    qtbot, consoles, make_backend, tmp_path
):
    backend = make_backend("--alarm-rate", "5", "--data-dir", str(tmp_path / "data")).start()
    ctl = consoles(backend.address, "alice")
    qtbot.waitUntil(lambda: len(ctl.store.alarms) >= 10, timeout=30000)
    snapshots: list[int] = []
    ctl.session.alarms.sig_snapshot.connect(lambda _alarms, seq: snapshots.append(seq))
    before = ctl.store.sequence
    backend.stop()  # a clean stop keeps the epoch: the console must resume, not reload
    backend.start()
    view = BackendView(backend.address)
    try:
        qtbot.waitUntil(lambda: ctl.store.sequence > max(before, view.checker.sequence), timeout=60000)
        assert_store_matches_backend(qtbot, ctl, view)
    finally:
        view.close()
    assert snapshots == [], "resumed from its sequence, no snapshot reload"


def test_flood_of_1000_alarms_reaches_the_console_whole(qtbot, consoles, make_backend, tmp_path):
    backend = make_backend("--alarm-rate", "100", "--data-dir", str(tmp_path / "data")).start()
    ctl = consoles(backend.address, "alice")
    view = BackendView(backend.address)  # before the flood: its snapshot is older than the console
    try:
        with open_channel(backend.address) as ch:
            stub = alarms_pb2_grpc.AlarmServiceStub(ch)

            def raised() -> int:
                return stub.ListAlarms(alarms_pb2.ListAlarmsRequest(page_size=1), timeout=10).total_size

            qtbot.waitUntil(lambda: raised() >= 1000, timeout=120000)
        # The console's store is the backend's open alarms, field by field, at its sequence...
        sequence = assert_store_matches_backend(qtbot, ctl, view)
        # ...and the active list (refreshed with the store, no event since) shows exactly the open
        # ones that need attention.
        listed = {ctl.active.id_at(r) for r in range(ctl.active.rowCount())}
        ref = view.at(sequence)
    finally:
        view.close()
    assert sequence > 1000
    A = alarms_pb2.Alarm
    expected = {i for i, a in ref.items() if a.state in (A.UNACK_ACTIVE, A.ACK_ACTIVE, A.RTN_UNACK)}
    assert listed == expected and len(expected) > 50
    qtbot.waitUntil(lambda: "FLOOD" in ctl.panel.flood.text(), timeout=10000)  # its 1 s timer
