"""The console's dispatch stores and rules, without Qt: the incident book keeps the newest state of
each incident and lists open ones by priority then age before the closed ones; the unit book
groups units by status and filters by fleet; timers turn amber then red at the thresholds; an
alarm's cause picks the incident type."""

from __future__ import annotations

from dataclasses import replace

from vigie.app.models.dispatch_records import (
    Catalogue,
    IncidentRecord,
    IncidentType,
    Thresholds,
    UnitRecord,
    timer_level,
    type_for_alarm,
)
from vigie.app.models.incidents import IncidentBook, UnitBook


def incident(iid: str, priority: int = 2, status: str = "new", created: float = 1000.0, seq: int = 1, **kw):
    base = IncidentRecord(
        iid, "road_accident", priority, status, 47.3, 5.0, "Rue X", "Centre", "", (), (), (), (), (), (),
        "", "", "op", "operator", "", created, 0.0, 0.0, 0.0, 0.0, created, seq,
    )  # fmt: skip
    return replace(base, **kw)


def unit(uid: str, status: str = "available", fleet: str = "police", callsign: str = "", seq: int = 1):
    return UnitRecord(uid, callsign or uid, fleet, "", ("police",), status, 0.0, "", "", "sim", seq)


def test_book_keeps_the_newest_state_whatever_the_arrival_order():
    book = IncidentBook()
    book.reset([incident("a", seq=5)], 5)
    # An action's answer (sequence 7) may arrive before the watch's older change (6).
    assert book.apply([incident("a", status="dispatched", seq=7)], 7) == {"a"}
    assert book.apply([incident("a", status="new", seq=6)], 6) == set()
    assert book.incidents["a"].status == "dispatched"
    assert book.sequence == 7


def test_open_incidents_by_priority_then_oldest_then_closed_newest_first():
    book = IncidentBook()
    book.reset(
        [
            incident("p2-old", 2, created=100),
            incident("p1-new", 1, created=300),
            incident("p2-new", 2, created=200),
            incident("closed-old", 1, "closed", created=10, resolved_at=50),
            incident("resolved-new", 1, "resolved", created=20, resolved_at=60),
            incident("held", 1, "on_hold", created=400),
        ],
        1,
    )
    assert [i.id for i in book.ordered()] == [
        "p1-new",
        "held",
        "p2-old",
        "p2-new",
        "resolved-new",
        "closed-old",
    ]


def test_unit_board_shows_units_at_work_first_then_free_ones_then_the_others_by_fleet():
    book = UnitBook()
    book.reset(
        [
            unit("t1", "on_scene", "technical", "Voirie 01"),
            unit("p2", "available", "police", "Police 02"),
            unit("p1", "available", "police", "Police 01"),
            unit("p3", "en_route", "police", "Police 03"),
            unit("t2", "out_of_service", "technical", "Eau 01"),
        ],
        1,
    )
    assert [u.id for u in book.board()] == ["p3", "t1", "p1", "p2", "t2"]
    assert [u.id for u in book.board("technical")] == ["t1", "t2"]
    assert book.counts() == {"on_scene": 1, "available": 2, "en_route": 1, "out_of_service": 1}


def test_timer_levels_follow_the_thresholds_of_the_status():
    th = Thresholds(1, 60, 120, 1800, 3600)
    new = incident("a", 1, created=1000)
    assert timer_level(new, th, 1059) == ""
    assert timer_level(new, th, 1060) == "amber"
    assert timer_level(new, th, 1120) == "red"
    dispatched = incident("b", 1, "dispatched", created=1000)
    assert timer_level(dispatched, th, 1120) == ""  # dispatched in time: the open thresholds apply
    assert timer_level(dispatched, th, 2800) == "amber"
    assert timer_level(dispatched, th, 4600) == "red"
    assert timer_level(incident("c", 1, "resolved", created=1000), th, 9999) == ""
    assert timer_level(new, None, 9999) == ""


def catalogue_of(codes: set[str]) -> Catalogue:
    """A catalogue with these type codes and the backend's cause/kind tables, written out here."""
    cat = Catalogue()
    cat.types = {c: IncidentType(c, c, 2, "", ()) for c in codes}
    cat.type_for_cause = {"door_forced": "door_forced", "pressure_low": "water_leak"}
    cat.type_for_kind = {"street_light": "lighting_failure", "camera": "equipment_fault"}
    return cat


def test_an_alarm_cause_picks_its_incident_type_from_the_served_tables_among_the_known_ones():
    known = catalogue_of({"door_forced", "water_leak", "lighting_failure", "public_order", "equipment_fault"})
    assert type_for_alarm("door_forced", "access_point", known) == "door_forced"
    assert type_for_alarm("pressure_low", "water_sensor", known) == "water_leak"
    assert type_for_alarm("device_fault", "street_light", known) == "lighting_failure"
    assert type_for_alarm("device_fault", "camera", known) == "equipment_fault"
    assert type_for_alarm("something_new", "tram_station", known) == "public_order"
    assert type_for_alarm("door_forced", "access_point", catalogue_of({"water_leak"})) == "water_leak"
    # Without the tables (an older backend), the kind and cause say nothing: the fallback.
    bare = catalogue_of({"door_forced", "public_order"})
    bare.type_for_cause, bare.type_for_kind = {}, {}
    assert type_for_alarm("door_forced", "access_point", bare) == "public_order"
