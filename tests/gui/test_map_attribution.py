"""An MBTiles file's attribution is shown as text: markup in its metadata never reaches the
map page's DOM (the page renders attributions as HTML)."""

from __future__ import annotations

import sqlite3

from tests.gui.test_map import js, write_mbtiles

HOSTILE = '<img src=x onerror="window.__pwned = 1">© OSM & co'


def test_mbtiles_attribution_reaches_the_page_as_text(qtbot, map_view, tmp_path):
    path = tmp_path / "city.mbtiles"
    write_mbtiles(path, 13, 4210, 2918)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO metadata VALUES ('attribution', ?)", (HOSTILE,))
    db.close()
    map_view.set_basemap(tiles=map_view.use_mbtiles(path))
    control = "document.querySelector('.leaflet-control-attribution')"
    qtbot.waitUntil(lambda: "OSM" in (js(qtbot, map_view, f"{control}.textContent") or ""), timeout=10000)
    assert HOSTILE in js(qtbot, map_view, f"{control}.textContent")
    assert js(qtbot, map_view, f"{control}.querySelectorAll('img').length") == 0
    assert js(qtbot, map_view, "typeof window.__pwned") == "undefined"
