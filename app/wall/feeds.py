"""Live video into tiles, in one place for every mosaic and wall: per tile a stream (through the
video client, or read directly for `direct` catalogue cameras) and a decoding worker that hands
ready pictures to the tile.

A tile keeps its stream while it shows the same camera at the same profile, so a change that
keeps a camera does not blink it; a tile that changes camera gets a new decoder generation (late
pictures of the previous camera never show under the new name)."""

from __future__ import annotations

import weakref

from PySide6.QtCore import QObject

from vigie.app.client.session import Session
from vigie.app.models.records import CameraInfo
from vigie.app.video.decoder import FrameDecoder
from vigie.app.video.direct import DirectSource
from vigie.widgets.mosaic.tile import VideoTile

# Every live TileFeeds (mosaics and walls): Help > Diagnostics reads their tiles' statistics.
ALL_FEEDS: weakref.WeakSet[TileFeeds] = weakref.WeakSet()


class TileFeeds(QObject):
    def __init__(
        self,
        session: Session,
        prefix: str = "wall",
        max_fps: float = 12.0,
        parent: QObject | None = None,
        controls: bool = False,
    ) -> None:
        """`prefix` keeps the stream keys of several feeds apart on one session; `controls`: the
        tiles offer PTZ controls (an operated mosaic, not a wall)."""
        super().__init__(parent)
        self.session = session
        self.prefix = prefix
        self.max_fps = max_fps
        self.controls = controls
        self.cameras: dict[str, CameraInfo] = {}
        self.streams: dict[int, tuple[str, str]] = {}  # id(tile) -> (camera id, profile)
        self._tiles: dict[int, VideoTile] = {}
        self._decoders: dict[int, FrameDecoder] = {}
        self._direct: dict[int, DirectSource] = {}
        self._fed: dict[int, str] = {}  # id(tile) -> the camera its decoder generation belongs to
        session.video.sig_cameras.connect(self._on_cameras)
        ALL_FEEDS.add(self)

    def tile_stats(self) -> list[tuple[str, str, int, int, int]]:
        """(feed prefix, camera id, frames received, decoded, dropped) per streaming tile."""
        out = []
        for key, (camera_id, _profile) in self.streams.items():
            dec = self._decoders.get(key)
            if dec is not None:
                out.append((self.prefix, camera_id, dec.received, dec.decoded, dec.dropped))
        return out

    def set_cameras(self, cameras: dict[str, CameraInfo]) -> None:
        """The camera list, for feeds made after the session delivered it."""
        self._on_cameras(cameras)

    def _on_cameras(self, cameras: dict[str, CameraInfo]) -> None:
        """Names and direct URLs arrive: relabel, and restart the tiles whose way of reading changed."""
        self.cameras = cameras
        for key, tile in list(self._tiles.items()):
            info = cameras.get(tile.camera_id)
            if info is None:
                continue
            tile.update_info(info.name, self.controls and info.ptz, info.presets if self.controls else [])
            if key in self.streams:
                camera_id, profile = self.streams[key]
                direct = self._profile(camera_id, "SUB") == "direct"
                if direct != (profile == "direct"):
                    self._stop(key)
                    self._start(key, tile, camera_id, "direct" if direct else "SUB")

    def label(self, tile: VideoTile, camera_id: str, name: str = "") -> None:
        """Show `camera_id` ("" for none) on `tile`: name, PTZ controls, a fresh picture area."""
        self._tiles[id(tile)] = tile
        info = self.cameras.get(camera_id)
        ptz = bool(self.controls and info and info.ptz)
        presets = info.presets if self.controls and info else []
        tile.set_camera(camera_id, info.name if info else name or camera_id, ptz, presets)

    def show(self, tile: VideoTile, camera_id: str, name: str, profile: str) -> None:
        """Label `tile` with `camera_id` if it changed, and stream it ("" stops)."""
        if tile.camera_id != camera_id or not camera_id:
            self.label(tile, camera_id, name)
        if camera_id:
            self.stream(tile, camera_id, profile)
        else:
            self.hide(tile)

    def stream(self, tile: VideoTile, camera_id: str, profile: str) -> None:
        """Stream `camera_id` into `tile` at `profile`; the same camera and profile: nothing."""
        key = id(tile)
        self._tiles[key] = tile
        profile = self._profile(camera_id, profile)
        before = self.streams.get(key)
        if before == (camera_id, profile):
            return
        # From one backend camera to another the tile's call switches in place (no call closed).
        self._stop(key, switching=before is not None and "direct" not in (before[1], profile))
        self._start(key, tile, camera_id, profile)

    def hide(self, tile: VideoTile) -> None:
        """The tile is no longer shown: stop its stream (it keeps its last picture)."""
        self._stop(id(tile))

    def decoder(self, tile: VideoTile) -> FrameDecoder:
        """The tile's decoding worker (made on first use): crops, snapshots, statistics."""
        key = id(tile)
        self._tiles[key] = tile
        dec = self._decoders.get(key)
        if dec is None:
            dec = FrameDecoder(name=f"{self.prefix}-decode")
            dec.sig_frame.connect(tile.set_frame)
            dec.set_target_size(tile.size())
            tile.sig_resized.connect(dec.set_target_size)
            self._decoders[key] = dec
        return dec

    def decoder_of(self, tile: VideoTile) -> FrameDecoder | None:
        return self._decoders.get(id(tile))

    def stop(self) -> None:
        for key in list(self.streams):
            self._stop(key)
        for dec in self._decoders.values():  # stop them all first, then wait once for each
            dec.stop(wait=False)
        for dec in self._decoders.values():
            dec.stop()
        self._decoders.clear()

    def _profile(self, camera_id: str, profile: str) -> str:
        """A camera the console reads itself has one profile: its own stream."""
        info = self.cameras.get(camera_id)
        return "direct" if info is not None and info.direct and info.url else profile

    def _start(self, key: int, tile: VideoTile, camera_id: str, profile: str) -> None:
        dec = self.decoder(tile)
        if self._fed.get(key) != camera_id:
            dec.reset()
            self._fed[key] = camera_id
        jpeg_sink, frame_sink = dec.sink()
        self.streams[key] = (camera_id, profile)
        tile.profile = profile
        info = self.cameras.get(camera_id)
        if profile == "direct" and info is not None:
            self._direct[key] = DirectSource(info.url, frame_sink, self.max_fps)
        else:
            self.session.video.open_video(
                f"{self.prefix}:{key}", camera_id, jpeg_sink, profile=profile, max_fps=self.max_fps
            )

    def _stop(self, key: int, switching: bool = False) -> None:
        """`switching`: the next _start streams another backend camera in the same call."""
        if self.streams.pop(key, None) is not None and not switching:
            self.session.video.close_video(f"{self.prefix}:{key}")
        src = self._direct.pop(key, None)
        if src is not None:
            src.stop()
