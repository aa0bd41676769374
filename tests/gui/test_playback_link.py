"""A Play stream's end, from the console's playback client against a real recording backend
(app/client/playback.py): going back to live, or playing something else on the same tile, ends the
call by ending its controls, and the backend ends it with OK. Never a cancelled stream, which leaves
native memory behind in gRPC's core (docs/soak.md); and nothing of a closed stream reaches its sink."""

from __future__ import annotations

from tests.api.recording_helpers import start_recording_backend
from tests.conftest import console_session


def test_a_closed_play_stream_ends_with_ok_and_a_reopened_key_plays_only_the_new_one(
    qtbot, tmp_path, make_backend
):
    b, t0 = start_recording_backend(tmp_path, make_backend)
    session = console_session(b.address)
    session.start()
    try:
        client = session.playback
        first: list[float] = []
        client.open("tile-0", "file-1", t0 + 1.0, lambda jpeg, captured, control: first.append(captured))
        qtbot.waitUntil(lambda: len(first) >= 3, timeout=20000)
        old = client.player("tile-0")
        assert old is not None

        # The same key plays another camera: the first call ends, the new one plays.
        second: list[float] = []
        client.open("tile-0", "file-2", t0 + 2.0, lambda jpeg, captured, control: second.append(captured))
        at_close = len(first)
        qtbot.waitUntil(lambda: old.outcome != "", timeout=10000)
        assert old.outcome == "ended", "ended by the backend after the half-close, not cancelled"
        qtbot.waitUntil(lambda: len(second) >= 5, timeout=20000)
        # At most the one picture being handed over when the key was reopened.
        assert len(first) - at_close <= 1, "a closed stream's pictures do not reach its sink"

        new = client.player("tile-0")
        assert new is not None and new is not old
        client.close("tile-0")
        qtbot.waitUntil(lambda: new.outcome != "", timeout=10000)
        assert new.outcome == "ended"
        assert client.player("tile-0") is None
        qtbot.waitUntil(
            lambda: not [n for n in session.core.tasks if n.startswith("playback:")], timeout=5000
        )
    finally:
        session.stop()
