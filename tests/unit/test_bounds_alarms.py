"""The console's alarm lists remember when each alarm was first listed (benchmarks read it): only
the newest FIRST_LISTED_MAX, however many alarms a shift lists. And a machine without sound tries
its audio library once, warns once, and still counts every tone."""

from __future__ import annotations

import builtins
import logging

import pytest

from vigie.app.controllers.alarms import AlarmController
from vigie.app.models.alarms import FIRST_LISTED_MAX, AlarmTableModel
from vigie.app.models.records import AlarmRecord
from vigie.app.session import Session


def _alarm(n: int, priority: int = 3) -> AlarmRecord:
    return AlarmRecord(
        id=f"alarm-{n}", source_key=f"k{n}", asset_id=f"a{n}", asset_name=f"asset {n}",
        asset_kind="sensor", district="Centre", lat=0.0, lon=0.0, priority=priority, cause="c",
        message="m", state="unack_active", active=True, acknowledged=False, raised_at=float(n),
        cleared_at=0.0, acknowledged_at=0.0, acknowledged_by="", ack_comment="", shelved_until=0.0,
        shelve_reason="", camera_ids=[], occurrences=1, chattering=False, sequence=n,
        updated_at=float(n),
    )  # fmt: skip


def test_first_listed_keeps_only_the_newest(qtbot):
    model = AlarmTableModel(lambda a: True, blink=False)
    total = FIRST_LISTED_MAX + 2_500
    for start in range(0, total, 500):  # alarms come and go, 500 listed at a time
        model.set_alarms(_alarm(n) for n in range(start, start + 500))
    assert len(model.first_listed) == FIRST_LISTED_MAX
    assert "alarm-0" not in model.first_listed  # the oldest went first
    assert f"alarm-{total - 1}" in model.first_listed


def test_no_audio_library_is_tried_once_and_warned_once(qtbot, caplog, monkeypatch):
    tries = []
    real_import = builtins.__import__

    def no_multimedia(name, *args, **kwargs):  # this machine has sound: pretend libpulse is missing
        if name == "PySide6.QtMultimedia":
            tries.append(name)
            raise ImportError("libpulse.so.0: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_multimedia)
    ctl = AlarmController(Session("127.0.0.1:9"), operator="test")  # never started
    qtbot.addWidget(ctl.panel)
    with caplog.at_level(logging.WARNING, logger="vigie.app.controllers.alarms"):
        for n in range(5):
            ctl._last_tone = -10.0  # past the 2 s spacing between tones
            ctl.store.apply([_alarm(n, priority=1)], n + 1)
    assert ctl.tones == 5
    assert tries == ["PySide6.QtMultimedia"]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].exc_info is None


def test_no_audio_output_is_found_once_and_nothing_plays(qtbot, caplog):
    from PySide6.QtMultimedia import QMediaDevices

    if not QMediaDevices.defaultAudioOutput().isNull():
        pytest.skip("this machine has an audio output")
    ctl = AlarmController(Session("127.0.0.1:9"), operator="test")  # never started
    qtbot.addWidget(ctl.panel)
    with caplog.at_level(logging.WARNING, logger="vigie.app.controllers.alarms"):
        for n in range(3):
            ctl._last_tone = -10.0
            ctl.store.apply([_alarm(n, priority=1)], n + 1)
    assert ctl.tones == 3
    assert ctl._sound is None  # no QSoundEffect playing to no device
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "no alarm tone on this machine (no audio output device): alarms are shown without it"
    ]
