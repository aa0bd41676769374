"""Playback in a tile, and several tiles on one clock.

`TilePlayer` plays one camera into one tile through the tile's own decoder (app/video/decoder.py),
with a PlaybackBar along its bottom. `SharedClock` drives several players with one position and
speed: every seek or speed change gives all of them the same backend `clock_origin`, so the
backend paces them on one media clock (docs/recording.md, "Synced playback")."""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from vigie.app.client.playback import PlaybackClient
from vigie.app.client.playback_types import PlayState, Spans
from vigie.app.video.decoder import FrameDecoder
from vigie.widgets.mosaic.tile import VideoTile
from vigie.widgets.playback.controls import PlaybackBar, clock_text

CLOCK_LEAD_S = 0.6  # the shared clock starts this long after now: every control reaches the backend first
SPANS_EVERY_MS = 5000  # the timeline asks for the spans again this often
SPAN_WINDOW_S = 600.0  # a tile's timeline starts 5 min before the start it was opened at
_keys = itertools.count(1)


class TilePlayer(QObject):
    """One tile in playback; `position()` is where its media clock is now (the backend's answer)."""

    sig_position = Signal(float)
    sig_closed = Signal()

    def __init__(
        self,
        client: PlaybackClient,
        tile: VideoTile,
        decoder: FrameDecoder,
        start: float,
        bar: PlaybackBar | None = None,
        clock_origin: float = 0.0,
    ) -> None:
        """`clock_origin`: the backend time the media clock starts at (a shared clock's)."""
        super().__init__(tile)
        self.client, self.tile, self.decoder = client, tile, decoder
        self.key = f"tile-play-{next(_keys)}"
        self.camera_id = tile.camera_id
        self.state = PlayState(start, 1.0, 0.0, 0)
        self.last_frame = 0.0  # capture time of the last picture handed to the decoder
        self.bar = bar
        self._seq = 0
        self.arrivals: deque[tuple[float, float]] = deque(maxlen=600)  # (arrival, capture) of pictures
        self._min_control = 1
        self._start = start
        self._jumped = False  # a start before any recording jumps once to the first span after it
        client.sig_state.connect(self._on_state)
        client.sig_spans.connect(self._on_spans)
        decoder.reset()
        jpeg_sink = decoder.sink()[0]

        def sink(jpeg: bytes, captured: float, control_id: int) -> None:
            if control_id < self._min_control:  # from before the last seek: never shown
                return
            self._seq += 1
            self.last_frame = captured
            self.arrivals.append((time.time(), captured))
            jpeg_sink(jpeg, captured, self._seq)

        self._sink: Callable[[bytes, float, int], None] = sink
        if bar is not None:
            bar.timeline.set_range(start - SPAN_WINDOW_S / 2, time.time())
            bar.sig_seek.connect(lambda t: self.seek(t))
            bar.sig_speed.connect(lambda s: self.set_speed(s))
            bar.sig_step.connect(lambda n: client.step(self.key, n))
            bar.sig_live.connect(self.close)
            self._span_start = start - SPAN_WINDOW_S / 2
            self._refresh_spans()
            self._span_timer = QTimer(self, interval=SPANS_EVERY_MS)  # the recording keeps growing
            self._span_timer.timeout.connect(self._refresh_spans)
            self._span_timer.start()
        tile.set_playback(f"PLAYBACK {clock_text(start)}", bar)
        self._tick = QTimer(self, interval=250)  # the shown time runs with the media clock
        self._tick.timeout.connect(self._show_time)
        self._tick.start()
        client.open(self.key, self.camera_id, start, self._sink, clock_origin=clock_origin)

    def position(self, now_server: float | None = None) -> float:
        """The media time now, from the last state and the backend's clock (≈ this machine's)."""
        s = self.state
        if not s.server_time or not s.speed:
            return s.position
        return s.position + s.speed * ((now_server or time.time()) - s.server_time)

    def seek(self, t: float, clock_origin: float = 0.0) -> None:
        self.client.seek(self.key, t, clock_origin)
        self._min_control = self.client.last_control(self.key)

    def set_speed(self, speed: float, clock_origin: float = 0.0) -> None:
        self.client.set_speed(self.key, speed, clock_origin)

    def close(self) -> None:
        """Back to live: the stream ends, the bar goes, the mosaic streams the camera again."""
        self._tick.stop()
        if self.bar is not None:
            self._span_timer.stop()
        self.client.close(self.key)
        self.client.sig_state.disconnect(self._on_state)
        self.client.sig_spans.disconnect(self._on_spans)
        self.tile.set_playback("", None)
        if self.bar is not None:
            self.bar.hide()
            self.bar.deleteLater()
        self.decoder.reset()
        self.sig_closed.emit()
        self.deleteLater()

    def _on_state(self, key: str, state: PlayState) -> None:
        if key != self.key:
            return
        self.state = state
        self._show_time()

    def _show_time(self) -> None:
        t = self.position()
        self.tile.set_playback(f"PLAYBACK {clock_text(t)}", self.bar)
        if self.bar is not None:
            self.bar.set_position(t)
        self.sig_position.emit(t)

    def _refresh_spans(self) -> None:
        now = time.time()
        if self.bar is not None:
            self.bar.timeline.set_range(self._span_start, now)
        self.client.request_spans(self.camera_id, self._span_start, now + 60)

    def _on_spans(self, spans: Spans) -> None:
        if self.bar is None or spans.camera_id != self.camera_id:
            return
        self.bar.timeline.set_spans(
            [(s.start, s.end, s.protected) for s in spans.spans],
            [(m.time, m.kind, m.label) for m in spans.markers],
        )
        if not self._jumped and spans.spans:
            self._jumped = True
            t = self._start
            if not any(s.start <= t <= s.end for s in spans.spans):
                after = [s.start for s in spans.spans if s.start > t]
                if after:
                    self.seek(after[0])


class SharedClock(QObject):
    """Several players on one clock: the same position, speed and backend clock origin for all."""

    sig_position = Signal(float)

    def __init__(self, players: list[TilePlayer]) -> None:
        super().__init__()
        self.players = players
        self.speed = 1.0
        self.anchor = (0.0, 0.0)  # (media position, wall time) of the shared clock
        for p in players:
            p.sig_position.connect(self.sig_position)

    def origin(self) -> float:
        server = max((p.state.server_time for p in self.players), default=0.0) or time.time()
        return max(server, time.time()) + CLOCK_LEAD_S

    def seek(self, t: float) -> None:
        origin = self.origin()
        self.anchor = (t, origin)
        for p in self.players:
            p.seek(t, origin)

    def set_speed(self, speed: float) -> None:
        origin = self.origin()
        self.anchor = (self.position(origin), origin)
        self.speed = speed
        for p in self.players:
            p.set_speed(speed, origin)

    def position(self, now: float | None = None) -> float:
        """Where the shared clock is at wall time `now`."""
        t0, origin = self.anchor
        now = time.time() if now is None else now
        return t0 + self.speed * max(0.0, now - origin) if self.speed else t0
