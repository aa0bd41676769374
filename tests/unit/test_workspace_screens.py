"""Screen roles and folding, without Qt."""

from __future__ import annotations

from vigie.app.workspace.screens import (
    ScreenInfo,
    absolute,
    assign_roles,
    cascade,
    clamp,
    role_index,
    role_names,
    roles_of_screens,
)


def screens(*names_x: tuple[str, int]) -> list[ScreenInfo]:
    return [ScreenInfo(name, (x, 0, 1920, 1080)) for name, x in names_x]


def test_roles_of_a_desk():
    assert role_names(1) == ["console-left"]
    assert role_names(2) == ["console-left", "console-right"]
    assert role_names(4) == ["console-left", "console-right", "screen-3", "screen-4"]
    assert [role_index(r) for r in role_names(4)] == [0, 1, 2, 3]
    assert role_index("screen-12") > role_index("screen-4")


def test_roles_go_left_to_right_whatever_the_names():
    present = screens(("HDMI-2", 1920), ("DP-1", 3840), ("eDP-1", 0))
    got = assign_roles(role_names(3), present, {})
    assert got == {"console-left": "eDP-1", "console-right": "HDMI-2", "screen-3": "DP-1"}


def test_a_known_monitor_keeps_its_role_wherever_it_now_sits():
    present = screens(("B", 0), ("A", 1920))
    got = assign_roles(["console-left", "console-right"], present, {"console-left": "A"})
    assert got == {"console-left": "A", "console-right": "B"}


def test_missing_screens_fold_into_the_nearest_role_before():
    one = screens(("A", 0))
    got = assign_roles(role_names(4), one, {})
    assert set(got.values()) == {"A"}
    two = screens(("A", 0), ("B", 1920))
    known = {"console-left": "A", "console-right": "B", "screen-3": "C", "screen-4": "D"}
    got = assign_roles(role_names(4), two, known)
    assert got == {"console-left": "A", "console-right": "B", "screen-3": "B", "screen-4": "B"}
    assert roles_of_screens(got) == {"A": "console-left", "B": "console-right"}


def test_when_the_first_role_is_missing_it_folds_forward():
    present = screens(("B", 1920))
    got = assign_roles(
        ["console-left", "console-right"], present, {"console-left": "A", "console-right": "B"}
    )
    assert got == {"console-left": "B", "console-right": "B"}


def test_a_removed_monitor_folds_then_its_role_comes_back():
    known = {"console-left": "A", "console-right": "B", "screen-3": "C"}
    without_b = assign_roles(role_names(3), screens(("A", 0), ("C", 3840)), known)
    assert without_b == {"console-left": "A", "console-right": "A", "screen-3": "C"}
    back = assign_roles(role_names(3), screens(("A", 0), ("B", 1920), ("C", 3840)), known)
    assert back == {"console-left": "A", "console-right": "B", "screen-3": "C"}


def test_a_new_monitor_stands_in_for_a_missing_one():
    known = {"console-left": "A", "console-right": "B"}
    got = assign_roles(["console-left", "console-right"], screens(("A", 0), ("Z", 1920)), known)
    assert got == {"console-left": "A", "console-right": "Z"}


def test_no_screen_no_roles():
    assert assign_roles(["console-left"], [], {}) == {}


def test_geometry_is_never_left_off_screen():
    area = (1920, 0, 1920, 1080)
    assert clamp((5000, -50, 800, 600), area) == (3040, 0, 800, 600)
    assert clamp((1900, 10, 4000, 2000), area) == (1920, 0, 1920, 1080)
    s = ScreenInfo("B", (1920, 0, 1920, 1080), (1920, 30, 1920, 1050))
    assert absolute((100, 0, 800, 600), s) == (2020, 30, 800, 600)  # below the top panel
    for step in range(12):
        x, y, w, h = cascade((0, 0, 1920, 1080), s, step)
        assert x >= 1920 and x + w <= 3840 and y >= 30 and y + h <= 1080
        assert w <= 1920 * 0.85
