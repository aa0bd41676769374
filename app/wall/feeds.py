"""Live video into the wall's tiles: per tile a stream (through the session, or read directly for
`direct` catalogue cameras) and a decoding worker that hands ready pictures to the tile.

A tile keeps its stream while it shows the same camera at the same profile, so a new push that
keeps a camera does not blink it."""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.client.session import Session
from app.models.records import CameraInfo
from app.video.decoder import FrameDecoder
from app.video.direct import DirectSource
from widgets.mosaic.tile import VideoTile


class TileFeeds(QObject):
    def __init__(
        self, session: Session, prefix: str = "wall", max_fps: float = 12.0, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.prefix = prefix  # stream keys: several displays may share one session
        self.max_fps = max_fps
        self.cameras: dict[str, CameraInfo] = {}
        self.streams: dict[int, tuple[str, str]] = {}  # id(tile) -> (camera id, profile)
        self._tiles: dict[int, VideoTile] = {}
        self._decoders: dict[int, FrameDecoder] = {}
        self._direct: dict[int, DirectSource] = {}
        session.video.sig_cameras.connect(self._on_cameras)

    def _on_cameras(self, cameras: dict[str, CameraInfo]) -> None:
        """Names and direct URLs arrive: restart the tiles whose way of reading changed."""
        self.cameras = cameras
        for key, tile in list(self._tiles.items()):
            info = cameras.get(tile.camera_id)
            if info is not None:
                tile.update_info(info.name, False, [])
                if key in self.streams and info.direct != (key in self._direct):
                    profile = self.streams[key][1]
                    self._stop(key)
                    self._start(key, tile, tile.camera_id, profile)

    def show(self, tile: VideoTile, camera_id: str, name: str, profile: str) -> None:
        """Stream `camera_id` into `tile` ("" stops it); unchanged camera and profile: nothing."""
        key = id(tile)
        self._tiles[key] = tile
        if camera_id and self.streams.get(key) == (camera_id, profile):
            return
        self._stop(key)
        info = self.cameras.get(camera_id)
        tile.set_camera(camera_id, info.name if info else name)
        tile.profile = profile
        if camera_id:
            self._start(key, tile, camera_id, profile)

    def _start(self, key: int, tile: VideoTile, camera_id: str, profile: str) -> None:
        dec = self._decoders.get(key)
        if dec is None:
            dec = FrameDecoder(name=f"{self.prefix}-decode")
            dec.sig_frame.connect(tile.set_frame)
            tile.sig_resized.connect(dec.set_target_size)
            self._decoders[key] = dec
        dec.reset()
        dec.set_target_size(tile.size())
        jpeg_sink, frame_sink = dec.sink()
        self.streams[key] = (camera_id, profile)
        info = self.cameras.get(camera_id)
        if info is not None and info.direct and info.url:
            self._direct[key] = DirectSource(info.url, frame_sink, self.max_fps)
        else:
            self.session.video.open_video(
                f"{self.prefix}:{key}", camera_id, jpeg_sink, profile=profile, max_fps=self.max_fps
            )

    def _stop(self, key: int) -> None:
        if self.streams.pop(key, None) is not None:
            self.session.video.close_video(f"{self.prefix}:{key}")
        src = self._direct.pop(key, None)
        if src is not None:
            src.stop()

    def hide(self, tile: VideoTile) -> None:
        """The tile is no longer shown: stop its stream (it keeps its last picture)."""
        self._stop(id(tile))

    def stop(self) -> None:
        for key in list(self.streams):
            self._stop(key)
        for dec in self._decoders.values():
            dec.stop(wait=False)
        for dec in self._decoders.values():
            dec.stop()
        self._decoders.clear()
