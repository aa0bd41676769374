"""Workspace files: the JSON format, its validation and versioning, and where files live."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vigie.app.workspace.files import (
    VERSION,
    WorkspaceError,
    WorkspaceStore,
    dumps,
    from_json,
    loads,
    node_from_json,
    slug,
    to_json,
)
from vigie.app.workspace.layouts import LAPTOP, OPERATOR_2, PROVIDED, SUPERVISOR_3, proposed
from vigie.app.workspace.model import Split, Tabs, normalise, panel_ids


def every_workspace():
    return [f() for f in PROVIDED.values()] + [proposed(n) for n in range(1, 6)]


@pytest.mark.parametrize("ws", every_workspace(), ids=lambda ws: ws.name)
def test_round_trip(ws):
    text = dumps(ws)
    again = loads(text)
    assert dumps(again) == text
    assert to_json(again)["vigie_workspace"] == VERSION


def test_proposed_workspaces_follow_the_screens():
    one, two, three, five = proposed(1), proposed(2), proposed(3), proposed(5)
    assert [w.place.role for w in one.windows] == ["console-left"]
    assert set(panel_ids(one.windows[0].docks)) == {
        "assets",
        "map",
        "alarms",
        "detail",
        "mosaic-1",
        "alarm-video",
        "incidents",
        "incident",
    }
    left, right = two.windows
    assert {"map", "alarms"} <= set(panel_ids(left.docks)) and panel_ids(right.docks) == ["mosaic-1"]
    assert [w.place.role for w in three.windows] == ["console-left", "console-right", "screen-3"]
    assert panel_ids(three.windows[2].docks) == ["mosaic-2"]
    assert [panel_ids(w.docks) for w in five.windows[2:]] == [["mosaic-2"], ["mosaic-3"], ["mosaic-4"]]
    assert len({five.panels[f"mosaic-{i}"].state["layout"] for i in range(1, 5)}) >= 3


def test_provided_workspaces():
    assert set(PROVIDED) == {LAPTOP, OPERATOR_2, SUPERVISOR_3}
    sup = PROVIDED[SUPERVISOR_3]()
    assert [s.role for s in sup.screens] == ["console-left", "console-right", "screen-3"]
    assert sup.screens[2].presentation is not None and sup.screens[2].presentation.content == "mosaic"


def test_normalise_folds_and_merges():
    tree = Split(
        "horizontal",
        [
            Tabs([]),
            Split("vertical", [Tabs(["a"])], [1]),
            Split("horizontal", [Tabs(["b"]), Tabs(["c"])], [1, 3]),
        ],
        [5, 1, 2],
    )
    got = normalise(tree)
    assert isinstance(got, Split) and got.orientation == "horizontal"
    assert [i.panels for i in got.items] == [["a"], ["b"], ["c"]]
    assert got.sizes == pytest.approx([1 / 3, 1 / 6, 1 / 2], abs=1e-3)
    assert normalise(Split("vertical", [Tabs([])], [1])) is None


def good() -> dict:
    return to_json(proposed(2))


@pytest.mark.parametrize(
    ("change", "where", "what"),
    [
        (lambda d: d.pop("vigie_workspace"), "vigie_workspace", "not a Vigie workspace"),
        (lambda d: d.update(vigie_workspace=VERSION + 1), "vigie_workspace", "newer Vigie"),
        (lambda d: d.update(name="  "), "name", "must not be empty"),
        (lambda d: d["windows"][0]["docks"].update(split="diagonal"), "windows[0].docks.split", "horizontal"),
        (lambda d: d["windows"][0]["docks"].update(sizes=[1]), "windows[0].docks.sizes", "one non-negative"),
        (
            lambda d: d["windows"][1].update(docks={"tabs": ["ghost"]}),
            "windows[1]",
            "'ghost' is not described",
        ),
        (lambda d: d["windows"][1].update(docks={"tabs": ["map"]}), "windows[1]", "'map' is placed twice"),
        (lambda d: d["windows"][0].update(geometry=[0, 0, -5, 10]), "windows[0].geometry", "positive"),
        (lambda d: d["windows"][0].update(state="minimised"), "windows[0].state", "maximized"),
        (
            lambda d: d["screens"][0].update(presentation={"content": "radar"}),
            "screens[0].presentation.content",
            "mosaic",
        ),
        (lambda d: d["windows"][1].update(role="console-left"), "windows", "same role"),
        (
            lambda d: d["windows"][0]["docks"]["items"][0]["items"][0].update(current="nope"),
            "current",
            "not one of the tabs",
        ),
    ],
)
def test_bad_files_say_where_and_what(change, where, what):
    data = good()
    change(data)
    with pytest.raises(WorkspaceError) as err:
        from_json(data)
    assert where in str(err.value) and what in str(err.value)


def test_not_json():
    with pytest.raises(WorkspaceError, match="not JSON"):
        loads("{nope")


def test_unknown_keys_and_panel_kinds_are_kept_for_newer_consoles():
    data = good()
    data["future_key"] = 1
    data["panels"]["audit"] = {"kind": "audit", "state": {"filter": "x"}}
    data["windows"][1]["closed"] = ["audit"]
    ws = from_json(data)
    assert ws.panels["audit"].kind == "audit" and ws.windows[1].closed == ["audit"]


def test_store_lives_in_the_user_config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    store = WorkspaceStore()
    assert store.folder == Path(tmp_path) / "vigie" / "workspaces"
    ws = proposed(2)
    ws.name = "Night shift / desk 2"
    path = store.save(ws)
    assert path == store.folder / "night-shift-desk-2.json" and json.loads(path.read_text())["saved"]
    assert store.names() == ["Night shift / desk 2"]
    assert dumps(store.load("Night shift / desk 2")).replace(ws.saved, "") == dumps(ws).replace(ws.saved, "")
    assert store.load_last() is None
    store.save_last(dumps(proposed(1)))
    assert store.load_last().name == proposed(1).name
    assert not [p for p in store.folder.iterdir() if p.name.startswith(".")], "no temporary file left"


def test_store_skips_broken_files_and_names_them(tmp_path, caplog):
    store = WorkspaceStore(tmp_path)
    store.folder.mkdir(parents=True)
    (store.folder / "broken.json").write_text('{"vigie_workspace": 1, "name": 3}')
    store.save(proposed(1))
    assert store.names() == [proposed(1).name]
    assert "broken.json" in caplog.text
    with pytest.raises(WorkspaceError, match="broken.json"):
        store.load("broken")
    with pytest.raises(WorkspaceError, match="no saved workspace"):
        store.load("absent")
    store.last_path.write_text("garbage")
    assert store.load_last() is None


def test_slug():
    assert slug("Opérateur 2 écrans!") == "op-rateur-2-crans"
    assert slug("***") == "workspace"
    assert os.sep not in slug("../../etc/passwd")


def test_a_format_1_file_with_wall_names_opens_with_the_new_ones():
    """Files saved before the rename call presentation mode "wall" and the third screen's role
    "wall-1": they still open (presentation mode, role "screen-3"), and are written back so."""
    old = {
        "vigie_workspace": 1,
        "name": "Night desk",
        "screens": [
            {"role": "console-left", "name": "DP-1", "geometry": None, "wall": None},
            {"role": "wall-1", "name": "DP-3", "wall": {"content": "map", "state": {"zoom": 14}}},
        ],
        "windows": [
            {"role": "console-left", "docks": {"tabs": ["map"]}},
            {"role": "wall-2", "docks": {"tabs": ["mosaic-1"]}},
        ],
        "panels": {"map": {"kind": "map", "state": {}}, "mosaic-1": {"kind": "mosaic", "state": {}}},
    }
    ws = loads(json.dumps(old))
    assert [s.role for s in ws.screens] == ["console-left", "screen-3"]
    assert [w.place.role for w in ws.windows] == ["console-left", "screen-4"]
    assert ws.screens[0].presentation is None
    assert ws.screens[1].presentation is not None
    assert (ws.screens[1].presentation.content, ws.screens[1].presentation.state) == ("map", {"zoom": 14})
    written = json.loads(dumps(ws))["screens"][1]
    assert written["presentation"] == {"content": "map", "state": {"zoom": 14}}
    assert "wall" not in written


def test_a_null_item_in_a_split_is_dropped_with_its_size():
    node = node_from_json({"split": "horizontal", "items": [{"tabs": ["map"]}, None], "sizes": [0.7, 0.3]})
    assert node == Split("horizontal", [Tabs(["map"], "map")], [0.7])
