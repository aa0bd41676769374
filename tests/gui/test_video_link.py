"""A tile's video link against a real backend (app/client/video_link.py): one WatchVideo call per
tile, a camera switch inside it, and a close that half-closes the call so that the backend ends it
with OK: never a cancelled stream, which leaves native memory behind in gRPC's core (docs/soak.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from tests.conftest import console_session
from vigie.app.client.streams import StreamState


def test_a_closed_video_ends_its_call_with_ok_and_is_not_reopened(qtbot, backend):
    session = console_session(backend.address)
    session.start()
    try:
        frames: list[int] = []
        session.open_video("probe", "cam-0002", lambda jpeg, captured, seq: frames.append(seq))
        qtbot.waitUntil(lambda: len(frames) >= 3, timeout=20000)
        link = session.video.links["probe"]
        session.close_video("probe")
        assert link.task is not None
        qtbot.waitUntil(link.task.done, timeout=10000)
        # ENDED: the call's end came from the backend (EOF, status OK) after the half-close;
        # a cancelled call would be STOPPED.
        assert link.state is StreamState.ENDED
        assert link.calls == 1, "ended, not taken for a broken link and reopened"
        assert "probe" not in session.video.links
        assert not [name for name in session.core.tasks if name.startswith("video:probe")]
    finally:
        session.stop()


def test_a_camera_switch_stays_in_the_call_and_the_old_pictures_stop(qtbot, backend):
    session = console_session(backend.address)
    session.start()
    try:
        first: list[int] = []
        second: list[int] = []
        sizes: list[tuple[int, int]] = []

        def shown(jpeg: bytes, _captured: float, seq: int) -> None:
            img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            sizes.append((img.shape[1], img.shape[0]))
            second.append(seq)

        session.open_video("tile", "cam-0002", lambda jpeg, captured, seq: first.append(seq))
        qtbot.waitUntil(lambda: len(first) >= 3, timeout=20000)
        link = session.video.links["tile"]
        session.open_video("tile", "cam-0003", shown, profile="MAIN")
        qtbot.waitUntil(lambda: len(second) >= 3, timeout=20000)
        after_switch = len(first)
        qtbot.waitUntil(lambda: len(second) >= 6, timeout=20000)
        assert len(first) == after_switch, "no picture of the first camera once the second's came"
        assert session.video.links["tile"] is link and link.calls == 1, "the switch opened no call"
        assert set(sizes) == {(1280, 720)}, "the new sink had only the new request's pictures"
        session.close_video("tile")
        qtbot.waitUntil(link.task.done, timeout=10000)
        assert link.state is StreamState.ENDED
    finally:
        session.stop()


def test_a_link_reopens_on_the_camera_it_shows_when_the_backend_comes_back(qtbot, make_backend):
    first = make_backend("--seed", "7").start()
    session = console_session(first.address)
    session.start()
    try:
        a: list[int] = []
        b: list[int] = []
        session.open_video("tile", "cam-0002", lambda jpeg, captured, seq: a.append(seq))
        qtbot.waitUntil(lambda: len(a) >= 2, timeout=20000)
        session.open_video("tile", "cam-0004", lambda jpeg, captured, seq: b.append(seq))
        qtbot.waitUntil(lambda: len(b) >= 2, timeout=20000)
        link = session.video.links["tile"]
        first.kill()
        second = make_backend("--seed", "7", port=first.port).start()
        assert second.port == first.port
        seen = len(b)
        qtbot.waitUntil(lambda: len(b) >= seen + 3, timeout=30000)
        assert link.calls >= 2, "the broken call was reopened"
        assert session.video.links["tile"] is link
        session.close_video("tile")
        qtbot.waitUntil(link.task.done, timeout=10000)
        assert link.state is StreamState.ENDED
    finally:
        session.stop()
