"""Video state in the console is per tile, not per camera shown: a mosaic that goes through many
cameras keeps one stream and one decoding thread per tile."""

from __future__ import annotations

import threading

from vigie.app.session import Session
from vigie.app.wall.feeds import TileFeeds
from vigie.widgets.mosaic.tile import VideoTile


def test_many_cameras_through_nine_tiles_keep_nine_decoders(qtbot):
    session = Session("127.0.0.1:9")  # never started: stream requests are dropped, state is kept
    feeds = TileFeeds(session, prefix="test")
    tiles = [VideoTile(i) for i in range(9)]
    for t in tiles:
        qtbot.addWidget(t)
    threads_before = threading.active_count()
    try:
        for n in range(300):  # cameras come and go in every tile, at two profiles
            tile = tiles[n % 9]
            feeds.show(tile, f"cam-{n}", f"Camera {n}", "SUB" if n % 2 else "MAIN")
            if n % 7 == 0:
                feeds.hide(tile)
        assert len(feeds._decoders) == 9
        assert len(feeds.streams) <= 9 and len(feeds._tiles) == 9 and len(feeds._fed) <= 9
        assert threading.active_count() - threads_before == 9  # one decoding thread per tile
    finally:
        feeds.stop()
