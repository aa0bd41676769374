"""The alarm console's controller: session -> alarm store -> lists; operator actions -> session.

Also the tone (priority 1 and 2, at most one every 2 s, mutable per console), the flood indicator
(new alarms per minute), the counts for the status bar, the journal queries, and the link from a
selected alarm to the map and the mosaic (emitted for the main window to route).
"""

from __future__ import annotations

import getpass
import html
import logging
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, QUrl, Signal

from vigie.app import city_time
from vigie.app.client.session import Session
from vigie.app.client.types import OPEN_ALARM_STATES, JournalQuery
from vigie.app.models.alarms import (
    FLOOD_THRESHOLD,
    ID_ROLE,
    PRIORITY_ROLE,
    AlarmStore,
    AlarmTableModel,
    age_text,
)
from vigie.app.models.records import AlarmRecord
from vigie.widgets.alarms.alarm_panel import AlarmPanel
from vigie.widgets.alarms.style import PRIORITY_COLORS, STATE_LABELS
from vigie.widgets.status.palette import KIND_SINGULAR

log = logging.getLogger(__name__)


def _tone_file() -> Path:
    """A short two-tone chime, written once at run time (no audio files in git)."""
    path = Path(tempfile.gettempdir()) / "vigie-alarm-tone.wav"
    if not path.exists():
        rate = 22050
        t = np.arange(int(rate * 0.18)) / rate
        chunk = [np.sin(2 * np.pi * f * t) * np.hanning(len(t)) for f in (988.0, 740.0)]
        pcm = (np.concatenate(chunk) * 0.6 * 32767).astype("<i2")
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
    return path


def _hms(t: float) -> str:
    return city_time.strftime("%H:%M:%S", t)


def alarm_detail_html(a: AlarmRecord, now: float) -> str:
    """The alarm detail pane: what, where, since when, and its history with the comments the API
    gives (the acknowledgement's comment, the shelving reason), oldest first."""
    e = html.escape
    color = PRIORITY_COLORS.get(a.priority, "#8b949e")
    head = (
        f"<b style='color:{color}'>P{a.priority}</b> <b>{e(a.message)}</b> — {e(a.asset_name)} "
        f"<span style='color:#8b949e'>({e(a.asset_id)}, {e(a.district)})</span> · "
        f"<b>{e(STATE_LABELS.get(a.state, a.state))}</b>"
    )
    events: list[tuple[float, str]] = []
    if a.raised_at:
        count = (
            f" — {a.occurrences} times" + (", chattering" if a.chattering else "")
            if a.occurrences > 1
            else ""
        )
        events.append((a.raised_at, f"raised ({age_text(now - a.raised_at)} ago){count}"))
    if a.cleared_at:
        events.append((a.cleared_at, "returned to normal"))
    if a.acknowledged_at:
        comment = f": “{e(a.ack_comment)}”" if a.ack_comment else " (no comment)"
        events.append((a.acknowledged_at, f"acknowledged by <b>{e(a.acknowledged_by)}</b>{comment}"))
    if a.state == "shelved":
        events.append((now, f"shelved until {_hms(a.shelved_until)}: “{e(a.shelve_reason)}”"))
    lines = [f"<span style='color:#8b949e'>{_hms(t)}</span>&nbsp; {text}" for t, text in sorted(events)]
    cams = ", ".join(e(c) for c in a.camera_ids) or "none"
    lines.append(
        f"<span style='color:#8b949e'>cause</span> {e(a.cause)} · <span style='color:#8b949e'>cameras</span> {cams}"
    )
    return head + "<br>" + "<br>".join(lines)


class AlarmController(QObject):
    sig_alarm_selected = Signal(object)  # AlarmRecord: the main window centres the map, shows its cameras
    sig_counts = Signal(dict)  # {"p1".."p4", "unack", "shelved"}
    sig_message = Signal(str)
    sig_create_incident = Signal(
        object
    )  # AlarmRecord: open an incident from it (app/controllers/dispatch.py)

    def __init__(self, session: Session, operator: str | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.session = session
        self.operator = operator or getpass.getuser()
        self.store = AlarmStore(self)
        self.active = AlarmTableModel(
            lambda a: a.state in ("unack_active", "ack_active", "rtn_unack"), parent=self
        )
        self.shelved = AlarmTableModel(lambda a: a.state == "shelved", blink=False, parent=self)
        self.journal = AlarmTableModel(lambda a: True, blink=False, newest_first=True, parent=self)
        self._journal_rows: list[AlarmRecord] = []
        self._journal_request: JournalQuery | None = None
        self._journal_token = ""
        self.panel = AlarmPanel(
            self.active,
            self.shelved,
            self.journal,
            ID_ROLE,
            sorted(KIND_SINGULAR.items(), key=lambda kv: kv[1]),
            priority_role=PRIORITY_ROLE,
        )
        self.muted = False
        self.tones = 0  # tones asked for (tests read it; the machine may have no speaker)
        self._last_tone = 0.0
        self._sound: Any = None
        self._sound_failed = False  # QtMultimedia could not load: never retried

        session.alarms.sig_snapshot.connect(self.store.reset)
        session.alarms.sig_changes.connect(self.store.apply)
        self.selected: AlarmRecord | None = None  # the alarm in the detail pane
        session.alarms.sig_changes.connect(self._follow_selected)
        session.alarms.sig_result.connect(lambda ok, msg: self.sig_message.emit(msg))
        session.alarms.sig_journal.connect(self._on_journal)
        self.store.sig_changed.connect(self._refresh)
        self.store.sig_raised.connect(self._on_raised)
        p = self.panel
        p.sig_acknowledge.connect(
            lambda ids, comment: session.alarms.acknowledge(ids, comment, self.operator)
        )
        p.sig_shelve.connect(
            lambda ids, seconds, reason: session.alarms.shelve(ids, seconds, reason, self.operator)
        )
        p.sig_unshelve.connect(lambda ids: session.alarms.unshelve(ids, self.operator))
        p.sig_selected.connect(self._on_selected)
        p.sig_message.connect(self.sig_message)
        p.sig_create_incident.connect(self._on_create_incident)
        p.sig_journal_query.connect(self.query_journal)
        p.sig_journal_more.connect(self._more)
        p.sig_mute.connect(lambda muted: setattr(self, "muted", muted))
        p.sig_filter.connect(self.active.set_text)
        p.sig_filter.connect(self.shelved.set_text)
        self._flood_timer = QTimer(self.panel, interval=1000)  # lives and dies with the panel
        self._flood_timer.timeout.connect(self._update_flood)
        self._flood_timer.start()

    def _refresh(self, _ids: object) -> None:
        alarms = list(self.store.alarms.values())
        self.active.set_alarms(alarms)
        self.shelved.set_alarms(alarms)
        self.sig_counts.emit(self.store.counts())

    def _update_flood(self) -> None:
        rate = self.store.rate()
        self.panel.set_flood(rate, rate > FLOOD_THRESHOLD)

    def _on_raised(self, raised: list[AlarmRecord]) -> None:
        if self.muted or not any(a.priority <= 2 for a in raised):
            return
        now = time.monotonic()
        if now - self._last_tone < 2.0:  # during a flood: one tone, not a siren
            return
        self._last_tone = now
        self.tones += 1
        sound = self._tone()
        if sound is not None:
            sound.play()

    def _tone(self) -> Any:
        """The tone's player, made once; None when this machine cannot play sound (no libpulse:
        QtMultimedia fails to import; or no audio output: a QSoundEffect playing to none printed
        "format not supported" and the console died in Qt's event loop, twice in the soak). The
        failure is remembered and logged once, not at every alarm (it was a full traceback per
        alarm, and a new import attempt each time); a device plugged in later needs a restart."""
        if self._sound is None and not self._sound_failed:
            try:
                from PySide6.QtMultimedia import QMediaDevices, QSoundEffect

                if QMediaDevices.defaultAudioOutput().isNull():
                    raise RuntimeError("no audio output device")
                sound = QSoundEffect(self)
                sound.setSource(QUrl.fromLocalFile(str(_tone_file())))
                sound.setVolume(0.8)
                self._sound = sound
            except Exception as exc:  # no audio on this machine: the alarm is still shown
                self._sound_failed = True
                log.warning("no alarm tone on this machine (%s): alarms are shown without it", exc)
        return self._sound

    def _on_selected(self, alarm_id: str) -> None:
        rec = self.store.alarms.get(alarm_id) or self.journal.alarm(alarm_id)
        if rec is not None:
            self.selected = rec
            self.panel.show_detail(alarm_detail_html(rec, time.time()))
            self.sig_alarm_selected.emit(rec)

    def _follow_selected(self, changes: list[AlarmRecord], _sequence: int) -> None:
        """The detail pane follows the selected alarm's changes (acknowledged, closed...)."""
        if self.selected is None:
            return
        for a in changes:
            if a.id == self.selected.id:
                self.selected = a
                self.panel.show_detail(alarm_detail_html(a, time.time()))

    def _on_create_incident(self, alarm_id: str) -> None:
        rec = self.store.alarms.get(alarm_id)
        if rec is not None:
            self.sig_create_incident.emit(rec)

    # ---- journal -------------------------------------------------------------------------------

    def query_journal(self, f: dict) -> None:
        state = f.get("state", "")
        query = JournalQuery(
            start=time.time() - f["period_s"] if f.get("period_s") else 0.0,
            kinds=(f["kind"],) if f.get("kind") else (),
            districts=(f["district"],) if f.get("district") else (),
            priorities=(int(f["priority"]),) if f.get("priority") else (),
            states=OPEN_ALARM_STATES if state == "open" else (state,) if state else (),
            text=f.get("text", ""),
        )
        self._journal_request = query
        self._journal_rows = []
        self.session.alarms.query_journal(query)

    def _more(self) -> None:
        if self._journal_request is not None and self._journal_token:
            self.session.alarms.query_journal(self._journal_request.next_page(self._journal_token))

    def _on_journal(self, alarms: list[AlarmRecord], total: int, token: str) -> None:
        self._journal_rows.extend(alarms)
        self._journal_token = token
        self.journal.set_alarms(self._journal_rows)
        self.panel.set_journal_status(len(self._journal_rows), total, bool(token))
