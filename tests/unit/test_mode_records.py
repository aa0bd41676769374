"""The Qt-free parts of the console's city modes: which runs the banner shows (a returned run
leaves, changes apply in order), the banner's line in city time, and a device's result in words."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from vigie.app import city_time
from vigie.app.models.modes import ActiveModes, DeviceResult, ModeRun, ModeScope, banner_text


def run(run_id: str, state: str = "ACTIVE", at: float = 1_000.0, name: str = "Flood", **kw) -> ModeRun:
    return ModeRun(
        run_id,
        name.lower(),
        name,
        "#1f6feb",
        kw.pop("scope", ModeScope()),
        state,
        "alice",
        "c1",
        "why",
        at,
        **kw,
    )


@pytest.fixture
def paris():
    before = city_time.zone().key
    city_time.set_zone("Europe/Paris")
    yield
    city_time.set_zone(before)


def test_active_modes_follow_the_watch_and_drop_returned_runs():
    modes = ActiveModes()
    modes.reset(
        [run("a", at=20.0), run("b", "RETURNED"), run("c", "ACTIVATING", at=10.0, name="Major event")]
    )
    assert [r.run_id for r in modes.ordered()] == ["c", "a"]  # oldest activation first; b returned
    modes.apply([run("c", "RETURNING", at=10.0, name="Major event"), run("a", "RETURNED_PARTIAL", at=20.0)])
    assert [(r.run_id, r.state) for r in modes.ordered()] == [("c", "RETURNING")]
    modes.apply([run("d", "ACTIVATING", at=30.0, scope=ModeScope(False, ("Centre", "Nord")))])
    assert modes.status_text() == "MODES  Major event (whole city)  ·  Flood (Centre, Nord)"
    modes.apply([run("c", "RETURNED", at=10.0), run("d", "RETURNED", at=30.0)])
    assert modes.ordered() == [] and modes.status_text() == ""


def test_banner_line_says_mode_scope_since_when_in_city_time_and_by_whom(paris):
    at = datetime(2026, 12, 4, 23, 5, tzinfo=ZoneInfo("UTC")).timestamp()  # 00:05 on the 5th in Paris
    r = run("a", at=at, scope=ModeScope(False, ("Centre",)))
    assert banner_text(r) == "FLOOD — Centre — since 00:05 05 Dec by alice"
    assert (
        banner_text(run("b", "PARTIAL", at=at))
        == "FLOOD — whole city — since 00:05 05 Dec by alice (active, with failures)"
    )


def test_device_result_in_words():
    base = DeviceResult(
        "l1", "Light 1", "street_light", "dim", "activation", "CONFIRMED", "", "on", "dimmed to 30 %"
    )
    assert base.outcome() == "confirmed"
    assert (
        DeviceResult("l1", "L", "street_light", "dim", "activation", "TIMED_OUT", "", "", "").outcome()
        == "timed out"
    )
    assert (
        DeviceResult("l1", "L", "street_light", "dim", "activation", "", "", "", "", refused=True).outcome()
        == "refused"
    )
    assert DeviceResult(
        "l1", "L", "street_light", "dim", "return", "", "", "", "", left_as_is=True
    ).outcome() == ("left as is (changed by hand)")
    assert DeviceResult("l1", "L", "street_light", "dim", "activation", "", "", "", "").outcome() == (
        "already in the target state"
    )
