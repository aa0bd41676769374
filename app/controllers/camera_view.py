"""Feeds the 2x2 camera grid: one stream and one decoding worker per visible tile.

A maximised tile switches to the MAIN profile; tiles hidden behind it stop their streams.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.models.asset_table import AssetTableModel
from app.session import Session
from app.video.decoder import FrameDecoder
from widgets.video.grid import CameraGrid


class CameraViewController(QObject):
    def __init__(
        self, session: Session, model: AssetTableModel, grid: CameraGrid, max_fps: float = 12.0
    ) -> None:
        super().__init__(grid)
        self.session, self.model, self.grid = session, model, grid
        self.max_fps = max_fps
        self.cameras: list[str] = ["" for _ in grid.tiles]
        self.decoders: list[FrameDecoder] = []
        self.maximised: int | None = None
        self.next_tile = 0
        for i, tile in enumerate(grid.tiles):
            dec = FrameDecoder(name=f"decode-tile{i}")
            dec.sig_frame.connect(tile.set_frame)
            tile.sig_resized.connect(dec.set_target_size)
            self.decoders.append(dec)
        grid.sig_tile_activated.connect(self.toggle_maximise)
        model.sig_reset.connect(self._fill_empty_tiles)

    def _fill_empty_tiles(self) -> None:
        """After a snapshot, give empty tiles the first cameras that are up (centre first)."""
        if all(self.cameras):
            return
        cams = sorted(
            (r for r in self.model.records() if r.kind == "camera" and r.status == "ok"),
            key=lambda r: (r.district != "Centre-Ville", r.id),
        )
        taken = set(self.cameras)
        for i, cam in enumerate(self.cameras):
            if not cam:
                nxt = next((r for r in cams if r.id not in taken), None)
                if nxt is None:
                    return
                taken.add(nxt.id)
                self.show_camera(i, nxt.id)

    def show_camera(self, tile: int, camera_id: str) -> None:
        rec = self.model.record(camera_id)
        self.cameras[tile] = camera_id
        self.grid.tiles[tile].set_camera(camera_id, rec.name if rec else camera_id)
        self._stream(tile)

    def show_next(self, camera_id: str) -> None:
        """Put a camera in the next tile (round robin), e.g. on double-click in the asset table."""
        if camera_id in self.cameras:
            return
        self.show_camera(self.next_tile, camera_id)
        self.next_tile = (self.next_tile + 1) % len(self.cameras)

    def _stream(self, tile: int) -> None:
        cam = self.cameras[tile]
        if not cam:
            return
        visible = self.maximised in (None, tile)
        if not visible:
            self.session.close_video(f"tile{tile}")
            return
        profile = "MAIN" if self.maximised == tile else "SUB"
        self.session.open_video(
            f"tile{tile}", cam, self.decoders[tile].offer, profile=profile, max_fps=self.max_fps
        )

    def toggle_maximise(self, tile: int) -> None:
        self.maximised = None if self.maximised == tile else tile
        for i, t in enumerate(self.grid.tiles):
            t.setVisible(self.maximised in (None, i))
        for i in range(len(self.cameras)):
            self._stream(i)

    def stop(self) -> None:
        for i in range(len(self.cameras)):
            self.session.close_video(f"tile{i}")
        for d in self.decoders:
            d.stop()
