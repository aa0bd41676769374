"""The alarm console against a real backend raising alarms."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer
from vigie.v1 import alarms_pb2, alarms_pb2_grpc

from app.controllers.alarms import AlarmController
from app.session import Session
from tests.conftest import console_session, open_channel
from tests.gui.console_harness import ConsoleHarness


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
    counts = ctl.store.counts()
    assert sum(counts[f"p{p}"] for p in (1, 2, 3, 4)) >= ctl.active.rowCount()


def test_acknowledgement_reaches_another_console_within_2s(qtbot, consoles, alarm_backend):
    alice = consoles(alarm_backend.address, "alice")
    bob = consoles(alarm_backend.address, "bob")
    qtbot.waitUntil(lambda: any(not a.acknowledged for a in alice.store.alarms.values()), timeout=20000)
    target = next(a for a in alice.store.alarms.values() if not a.acknowledged)
    qtbot.waitUntil(lambda: target.id in bob.store.alarms, timeout=5000)
    with qtbot.waitSignal(alice.session.sig_alarm_result, timeout=5000) as done:
        alice.session.acknowledge([target.id], "seen on camera", "alice")
    assert done.args[0] is True

    def acked_on_bob() -> bool:
        a = bob.store.alarms.get(target.id)
        # The server records who is logged in, not what the request claims. None: acked and cleared.
        return a is None or (a.acknowledged and a.acknowledged_by == "operator")

    qtbot.waitUntil(acked_on_bob, timeout=2000)
    again = []
    alice.session.sig_alarm_result.connect(lambda ok, msg: again.append(ok))
    alice.session.acknowledge([target.id], "twice", "alice")
    qtbot.waitUntil(lambda: bool(again), timeout=5000)
    assert again == [True], "acknowledging twice is harmless"


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
        mosaic = window.cameras.mosaic
        assert alarm.camera_ids[0] in mosaic.cameras
        slot = mosaic.cameras.index(alarm.camera_ids[0])
        assert mosaic.tiles[slot].linked
        assert window.map._selected == alarm.asset_id and window.detail_ctl.asset_id == alarm.asset_id
        qtbot.waitUntil(lambda: mosaic.tiles[slot].frames >= 1, timeout=20000)
    finally:
        window.close()


def test_flood_of_1000_alarms_reaches_the_list_without_freezing(qtbot, consoles, make_backend, tmp_path):
    backend = make_backend("--alarm-rate", "100", "--data-dir", str(tmp_path / "data")).start()
    ctl = consoles(backend.address, "alice")
    ticks = []
    probe = QTimer(interval=50)
    probe.timeout.connect(lambda: ticks.append(1))
    probe.start()
    with open_channel(backend.address) as ch:
        stub = alarms_pb2_grpc.AlarmServiceStub(ch)

        def raised() -> int:
            return stub.ListAlarms(alarms_pb2.ListAlarmsRequest(page_size=1), timeout=5).total_size

        qtbot.waitUntil(lambda: raised() >= 1000, timeout=40000)
        target = stub.ListAlarms(alarms_pb2.ListAlarmsRequest(page_size=1), timeout=5)
    probe.stop()
    newest = target.alarms[0]
    # Everything up to the newest alarm reached the console (open ones listed, closed ones gone).
    qtbot.waitUntil(lambda: ctl.store.sequence >= newest.sequence, timeout=10000)
    assert ctl.active.rowCount() > 0
    assert len(ticks) >= 100, "the GUI kept its event loop turning during the flood"
    assert ctl.store.rate() > 10
    ctl._update_flood()
    assert "FLOOD" in ctl.panel.flood.text()
