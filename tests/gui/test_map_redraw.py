"""The map's points canvas redraws only the cells around assets that changed in place, and what it
then shows is what a full redraw would show (issue 17: redrawing the whole canvas for every batch
of status changes was most of the page's CPU)."""

from __future__ import annotations

import json
import time

from vigie.widgets.map.map_view import MapView

LAT, LON = 47.322, 5.041
CELL = 16  # resources/map/map.js CELL_PX
KINDS = ["camera", "traffic_signal", "bollard", "water_sensor", "access_point", "delivery_bay"]


def js(qtbot, view: MapView, script: str):
    out: list = []
    view.run_js(script, out.append)
    qtbot.waitUntil(lambda: bool(out), timeout=30000)
    return out[0]


def perf(qtbot, view: MapView) -> dict:
    return json.loads(js(qtbot, view, "JSON.stringify(window.vigieMap.perf())"))


def dense_city() -> list[list]:
    """A block of street lights on a 30 m grid with every other kind among them, cameras looking
    every way: marks overlap, so a cell redrawn alone must match its neighbours exactly."""
    rows = []
    for i in range(24):
        for j in range(24):
            lat, lon = LAT + (i - 12) * 0.00027, LON + (j - 12) * 0.0004
            status = "fault" if (i * 24 + j) % 37 == 0 else "ok"
            rows.append([f"l{i}-{j}", "street_light", f"Light {i}-{j}", lat, lon, status, 0.0, "", 0])
            if (i + j) % 5 == 0:
                kind = KINDS[(i * 7 + j) % len(KINDS)]
                rows.append(
                    [
                        f"{kind}-{i}-{j}",
                        kind,
                        f"{kind} {i}-{j}",
                        lat + 0.0001,
                        lon + 0.0001,
                        "ok",
                        (i * 40 + j * 13) % 360,
                        "",
                        0,
                    ]
                )
    return rows


def test_status_changes_redraw_only_their_cells_and_look_like_a_full_redraw(qtbot, map_view):
    rows = dense_city()
    map_view.reset_assets(rows)
    map_view.set_view({"lat": LAT, "lon": LON, "zoom": 16})
    qtbot.waitUntil(lambda: js(qtbot, map_view, "window.vigieMap.isReady()") is True, timeout=30000)
    # A selection ring and an alarm marker with its cameras: overlays a partial redraw must keep.
    cams = [r[0] for r in rows if r[1] == "camera"]
    map_view.select_asset("l12-12", fly=False)
    map_view.show_alarm(
        {
            "id": "al-1",
            "asset_id": "l11-11",
            "priority": 1,
            "color": "#f85149",
            "label": "P1",
            "cameras": cams[:2],
        }
    )
    qtbot.waitUntil(lambda: js(qtbot, map_view, "window.vigieMap.alarm() !== null") is True, timeout=10000)
    js(qtbot, map_view, "window.vigieMap.redrawNow()")  # the full redraw they asked for, now
    start = perf(qtbot, map_view)

    # Neighbours of the selected and alarmed assets flip status (and cameras turn), in one batch.
    changed = []
    for r in rows:
        near = r[0] in ("l12-13", "l11-12", "l12-11", "l13-13", "l10-10")
        if near or (r[1] != "street_light" and r[0] not in cams[:2] and len(changed) < 12):
            c = list(r)
            c[5] = "warning" if r[5] == "ok" else "ok"
            if c[1] == "camera":
                c[6] = (c[6] + 90) % 360
            c[8] = time.time()
            changed.append(c)
    map_view.update_assets(changed)
    qtbot.waitUntil(lambda: perf(qtbot, map_view)["partialRedraws"] > start["partialRedraws"], timeout=10000)
    for c in changed:
        assert js(qtbot, map_view, f"window.vigieMap.statusOf('{c[0]}')") == c[5]
    after = perf(qtbot, map_view)
    assert after["redraws"] - start["redraws"] == after["partialRedraws"] - start["partialRedraws"], (
        "a status change in place must not redraw the whole canvas"
    )

    diff = json.loads(js(qtbot, map_view, "JSON.stringify(window.vigieMap.compareWithFullRedraw(8))"))
    assert diff["pixels"] > 500_000
    # What may differ: antialiasing on the edges of the redrawn cells, where the clip cuts a mark that
    # did not change (a shade on single pixels). A mark missing or left behind differs by its whole
    # colour (a light's dot by 185 of alpha, a camera's cone by 71) over several pixels.
    assert diff["max"] <= 48, diff
    assert diff["differing"] <= 100, diff
    for x, y, _before, _after in diff["where"]:
        assert x % CELL in (0, 1, CELL - 1) or y % CELL in (0, 1, CELL - 1), (x, y, diff)


def test_a_move_or_a_new_asset_redraws_everything(qtbot, map_view):
    rows = dense_city()
    map_view.reset_assets(rows)
    map_view.set_view({"lat": LAT, "lon": LON, "zoom": 16})
    qtbot.waitUntil(lambda: js(qtbot, map_view, "window.vigieMap.isReady()") is True, timeout=30000)
    start = perf(qtbot, map_view)
    moved = list(rows[100])
    moved[3] += 0.0003
    map_view.update_assets([moved, ["new-1", "bollard", "New", LAT, LON, "fault", 0.0, "", 0]])
    qtbot.waitUntil(lambda: perf(qtbot, map_view)["redraws"] > start["redraws"], timeout=10000)
    after = perf(qtbot, map_view)
    assert after["partialRedraws"] == start["partialRedraws"]
    diff = json.loads(js(qtbot, map_view, "JSON.stringify(window.vigieMap.compareWithFullRedraw(0))"))
    assert diff["differing"] == 0, diff


def test_a_batch_over_a_tenth_of_the_canvas_redraws_everything(qtbot, map_view):
    # resources/map/map.js PARTIAL_MAX_SHARE: drawing under a clip of hundreds of cells cost more
    # than a whole redraw. Every third light of the block flips: fewer than a third of the assets
    # (the other reason for a whole redraw), but at zoom 17 their cells cover more than a tenth of the view.
    rows = dense_city()
    map_view.reset_assets(rows)
    map_view.set_view({"lat": LAT, "lon": LON, "zoom": 17})
    qtbot.waitUntil(lambda: js(qtbot, map_view, "window.vigieMap.isReady()") is True, timeout=30000)
    js(qtbot, map_view, "window.vigieMap.redrawNow()")
    start = perf(qtbot, map_view)
    flipped = [r[0] for r in rows if r[1] == "street_light"][::3]
    assert len(flipped) < len(rows) / 3
    map_view.update_statuses([(aid, "warning") for aid in flipped])
    qtbot.waitUntil(lambda: perf(qtbot, map_view)["redraws"] > start["redraws"], timeout=10000)
    after = perf(qtbot, map_view)
    assert after["partialRedraws"] == start["partialRedraws"]
    assert js(qtbot, map_view, f"window.vigieMap.statusOf('{flipped[-1]}')") == "warning"
    diff = json.loads(js(qtbot, map_view, "JSON.stringify(window.vigieMap.compareWithFullRedraw(0))"))
    assert diff["differing"] == 0, diff
