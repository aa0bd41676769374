"""The alarm engine's ISA-18.2 state machine, driven at random by hypothesis, plus a few examples."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from vigie.backend.domain.alarms import AlarmEngine, AlarmState, UnknownAlarm
from vigie.backend.domain.assets import Asset, Kind

SOURCES = ["door-1:door_forced", "door-2:door_forced", "wtr-1:pressure_low"]
ASSETS = {"door-1", "door-2", "wtr-1"}


def asset(source: str) -> Asset:
    aid = source.split(":")[0]
    return Asset(aid, Kind.ACCESS_POINT, aid.upper(), "Centre-Ville", 47.32, 5.04)


def isa_state(a) -> AlarmState:  # an engine Alarm
    """The operator-facing state by ISA-18.2 precedence, written out here (not the engine's own
    derivation): closed, then out of service, suppressed, shelved, then active/acknowledged."""
    if not a.active and a.acknowledged:
        return AlarmState.NORMAL
    if a.out_of_service:
        return AlarmState.OUT_OF_SERVICE
    if a.suppressed:
        return AlarmState.SUPPRESSED
    if a.shelved_until > 0:
        return AlarmState.SHELVED
    if a.active:
        return AlarmState.ACK_ACTIVE if a.acknowledged else AlarmState.UNACK_ACTIVE
    return AlarmState.RTN_UNACK


class AlarmMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = AlarmEngine(history=50)
        self.now = 1_000.0
        self.seq = 0
        self.acked: set[str] = set()  # ids acknowledged so far
        self.seen: dict[str, int] = {}  # id -> occurrences last seen

    def _check_changes(self, before: int) -> None:
        changes = self.engine.changes_after(before)
        assert [c.sequence for c in changes] == list(range(before + 1, self.engine.sequence + 1))
        for c in changes:
            if c.id in self.acked and not c.acknowledged:
                # Only a new occurrence may bring an acknowledged alarm back to unacknowledged.
                assert c.occurrences > self.seen.get(c.id, 0)
            if c.acknowledged:
                self.acked.add(c.id)
            self.seen[c.id] = c.occurrences

    def _step(self, fn) -> None:
        before = self.engine.sequence
        fn()
        self._check_changes(before)

    @rule(source=st.sampled_from(SOURCES), dt=st.floats(0, 40))
    def raise_(self, source: str, dt: float) -> None:
        self.now += dt
        self._step(lambda: self.engine.raise_alarm(source, asset(source), "c", 2, "m", self.now))
        assert self.engine.open_for(source) is not None and self.engine.open_for(source).active

    @rule(source=st.sampled_from(SOURCES), dt=st.floats(0, 40))
    def clear(self, source: str, dt: float) -> None:
        self.now += dt
        self._step(lambda: self.engine.clear(source, self.now))
        a = self.engine.open_for(source)
        assert a is None or not a.active

    @rule(data=st.data())
    def acknowledge(self, data) -> None:
        alarms = self.engine.open_alarms()
        if not alarms:
            with pytest.raises(UnknownAlarm):
                self.engine.acknowledge(["alm-999999"], "op", "", self.now)
            return
        ids = data.draw(st.lists(st.sampled_from([a.id for a in alarms]), min_size=1, max_size=3))
        self._step(lambda: self.engine.acknowledge(ids, "op", "seen", self.now))
        before = self.engine.sequence
        again = self.engine.acknowledge([i for i in ids if self.engine.get(i)], "op", "", self.now)
        assert self.engine.sequence == before and all(a.acknowledged for a in again)  # idempotent

    @rule(data=st.data(), duration=st.floats(1, 120))
    def shelve(self, data, duration: float) -> None:
        alarms = self.engine.open_alarms()
        if alarms:
            ids = data.draw(st.lists(st.sampled_from([a.id for a in alarms]), min_size=1, max_size=2))
            self._step(lambda: self.engine.shelve(ids, duration, "works", "op", self.now))

    @rule(data=st.data())
    def unshelve(self, data) -> None:
        alarms = self.engine.open_alarms()
        if alarms:
            ids = data.draw(st.lists(st.sampled_from([a.id for a in alarms]), min_size=1, max_size=2))
            self._step(lambda: self.engine.unshelve(ids, "op", self.now))

    @rule(dt=st.floats(0, 200))
    def expire(self, dt: float) -> None:
        self.now += dt
        self._step(lambda: self.engine.expire_shelves(self.now))
        assert all(not a.shelved or a.shelved_until > self.now for a in self.engine.open_alarms())

    @rule(aid=st.sampled_from(sorted(ASSETS)), on=st.booleans())
    def maintenance(self, aid: str, on: bool) -> None:
        self._step(lambda: self.engine.set_suppressed(aid, on, self.now))
        assert all(a.suppressed == on for a in self.engine.open_alarms() if a.asset_id == aid)

    @invariant()
    def isa_invariants(self) -> None:
        open_ = self.engine.open_alarms()
        sources = [a.source_key for a in open_]
        assert len(sources) == len(set(sources))  # one open alarm per source
        for a in open_:
            assert a.state is not AlarmState.NORMAL and not (not a.active and a.acknowledged)
            assert a.state is isa_state(a)
            if not (a.shelved or a.suppressed or a.out_of_service):
                expected = {
                    (True, False): AlarmState.UNACK_ACTIVE,
                    (True, True): AlarmState.ACK_ACTIVE,
                    (False, False): AlarmState.RTN_UNACK,
                }[(a.active, a.acknowledged)]
                assert a.state is expected
            elif a.shelved and not a.suppressed:
                assert a.state is AlarmState.SHELVED  # hidden from "open" until expiry
            assert a.active == (a.cleared_at == 0.0)
            assert a.chattering == (a.chattering or len(a.recent) >= 3)
            assert self.engine.open_for(a.source_key) is a
        for c in self.engine.changes_after(max(0, self.engine.sequence - 10)):
            if c.state is AlarmState.NORMAL:
                assert not c.active and c.acknowledged and not c.shelved


TestAlarmMachine = AlarmMachine.TestCase
TestAlarmMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_lifecycle_and_chattering():
    e = AlarmEngine()
    a = e.raise_alarm("d:x", asset("d:x"), "x", 1, "m", 0.0)
    assert a.state is AlarmState.UNACK_ACTIVE and a.sequence == 1 and a.id == "alm-000001"
    assert e.raise_alarm("d:x", asset("d:x"), "x", 1, "m", 1.0) is None  # still active: no change
    assert e.clear("d:x", 2.0).state is AlarmState.RTN_UNACK
    b = e.raise_alarm("d:x", asset("d:x"), "x", 1, "m", 3.0)
    assert b.id == a.id and b.occurrences == 2 and not b.chattering
    e.clear("d:x", 4.0)
    c = e.raise_alarm("d:x", asset("d:x"), "x", 1, "m", 5.0)
    assert c.occurrences == 3 and c.chattering and c.state is AlarmState.UNACK_ACTIVE
    assert e.acknowledge([a.id], "op", "ok", 6.0)[0].state is AlarmState.ACK_ACTIVE
    closed = e.clear("d:x", 7.0)
    assert closed.state is AlarmState.NORMAL and e.open_for("d:x") is None
    d = e.raise_alarm("d:x", asset("d:x"), "x", 1, "m", 8.0)
    assert d.id != a.id and d.occurrences == 1  # a closed alarm is never reopened


def test_shelf_tracks_underneath_and_comes_back():
    e = AlarmEngine()
    a = e.raise_alarm("d:x", asset("d:x"), "x", 1, "m", 0.0)
    assert e.shelve([a.id], 10.0, "noisy", "op", 0.0)[0].state is AlarmState.SHELVED
    assert e.clear("d:x", 5.0).state is AlarmState.SHELVED
    assert e.expire_shelves(9.0) == []
    back = e.expire_shelves(10.0)
    assert [x.state for x in back] == [AlarmState.RTN_UNACK] and back[0].shelved_by == ""
    with pytest.raises(ValueError):
        e.shelve([a.id], 0.0, "r", "op", 11.0)
    with pytest.raises(UnknownAlarm):
        e.acknowledge([a.id, "alm-424242"], "op", "", 11.0)
    assert e.get(a.id).acknowledged is False  # nothing changed


def test_maintenance_suppresses_present_and_future_alarms():
    e = AlarmEngine()
    a = e.raise_alarm("d:x", asset("d:x"), "x", 1, "m", 0.0)
    assert [x.state for x in e.set_suppressed("d", True, 1.0)] == [AlarmState.SUPPRESSED]
    b = e.raise_alarm("d:y", asset("d:y"), "y", 2, "m", 2.0)
    assert b.state is AlarmState.SUPPRESSED
    back = e.set_suppressed("d", False, 3.0)
    assert {x.id: x.state for x in back} == {a.id: AlarmState.UNACK_ACTIVE, b.id: AlarmState.UNACK_ACTIVE}


def test_reload_takes_over_open_alarms_without_raising_them_again():
    """A new cluster leader's engine (backend/bus/alarms.py): reloaded from another engine's open
    alarms, it updates them under their ids, numbers its changes and alarms after theirs, and
    forgets what it held before."""
    old = AlarmEngine()
    a = old.raise_alarm("d:x", asset("d:x"), "x", 1, "m", 0.0)
    old.raise_alarm("d:y", asset("d:y"), "y", 2, "m", 1.0)
    old.set_suppressed("w", True, 1.5)
    w = old.raise_alarm("w:z", asset("w:z"), "z", 3, "m", 1.6)
    old.clear("d:y", 2.0)
    old.acknowledge([old.open_for("d:y").id], "op", "", 3.0)  # closed: not taken over
    new = AlarmEngine()
    new.raise_alarm("q:q", asset("q:q"), "q", 4, "m", 0.0)
    new.reload(old.open_alarms(), sequence=40, next_id=old.next_id)
    assert new.open_for("q:q") is None and new.get(a.id) == old.get(a.id)
    assert new.raise_alarm("d:x", asset("d:x"), "x", 1, "m", 4.0) is None  # still active: no change
    assert new.clear("d:x", 5.0).id == a.id  # the same alarm goes on
    fresh = new.raise_alarm("d:y", asset("d:y"), "y", 2, "m", 6.0)
    assert fresh.sequence == 42 and fresh.id == f"alm-{old.next_id:06d}"
    assert new.get(w.id).suppressed  # the maintenance of its asset comes with the alarm
