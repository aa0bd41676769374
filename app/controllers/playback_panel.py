"""The playback workspace: its tiles on one SharedClock, and the map following that clock.

Every `CITY_EVERY_MS` the map gets the city as it was at the clock's position (GetCityState):
positions and statuses, the alarms open then, and a "PLAYBACK hh:mm:ss" banner."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer

from vigie.app.client.playback_types import CityAt, Spans
from vigie.app.client.session import Session
from vigie.app.controllers.playback import SharedClock, TilePlayer
from vigie.app.controllers.playback_export import ExportController
from vigie.app.video.decoder import FrameDecoder
from vigie.widgets.map.map_view import MapView
from vigie.widgets.playback.controls import clock_text
from vigie.widgets.playback.export_dialog import ExportDialog
from vigie.widgets.playback.panel import PlaybackPanel

CITY_EVERY_MS = 1000


def city_rows(city: CityAt) -> list[list]:
    """The assets at T as the map's rows (widgets/map/map_view.py COLUMNS)."""
    return [
        [a.id, a.kind.lower(), a.name, round(a.lat, 6), round(a.lon, 6), a.status.lower(), 0.0, "", city.time]
        for a in city.assets
    ]


class PlaybackPanelController(QObject):
    def __init__(self, session: Session, panel: PlaybackPanel, map_view: MapView) -> None:
        super().__init__(panel)
        self.session, self.panel, self.map_view = session, panel, map_view
        self.client = session.playback
        self.players: list[TilePlayer] = []
        self.decoders: list[FrameDecoder] = []
        self.clock = SharedClock([])
        self._city_timer = QTimer(self, interval=CITY_EVERY_MS)
        self._city_timer.timeout.connect(self._ask_city)
        self.city: CityAt | None = None
        self.client.sig_city.connect(self._on_city)
        self.client.sig_spans.connect(self._on_spans)
        self._spans: dict[str, Spans] = {}
        panel.bar.sig_seek.connect(self.seek)
        panel.bar.sig_speed.connect(self.set_speed)
        panel.bar.sig_step.connect(lambda n: [self.client.step(p.key, n) for p in self.players])
        panel.bar.sig_live.connect(self.stop)
        panel.export_button.clicked.connect(self.open_export)
        self.export_dialog: ExportDialog | None = None

    def play(self, cameras: list[tuple[str, str]], start: float) -> None:
        """Play (camera id, name) in the visible tiles from `start`, all on one clock."""
        self.stop()
        origin = time.time() + 0.5  # every stream is open before the clock starts
        for tile, (cam, name) in zip(self.panel.visible_tiles(), cameras, strict=False):
            tile.set_camera(cam, name)
            dec = FrameDecoder(name="playback-decode")
            dec.sig_frame.connect(tile.set_frame)
            dec.set_target_size(tile.size())
            tile.sig_resized.connect(dec.set_target_size)
            self.decoders.append(dec)
            self.players.append(TilePlayer(self.client, tile, dec, start, clock_origin=origin))
        self.clock = SharedClock(self.players)
        self.clock.anchor, self.clock.speed = (start, origin), 1.0
        if self.players:
            self.players[0].sig_position.connect(self.panel.bar.set_position)
        self.panel.bar.timeline.set_range(start - 600, time.time())
        self._spans = {}
        for cam, _name in cameras[: len(self.players)]:
            self.client.request_spans(cam, start - 600, time.time() + 60)
        self.panel.bar.set_position(start)
        self._city_timer.start()
        self._ask_city()

    def _on_spans(self, spans: Spans) -> None:
        """The timeline shows what any of the played cameras recorded, and all their markers."""
        if spans.camera_id not in {p.camera_id for p in self.players}:
            return
        self._spans[spans.camera_id] = spans
        self.panel.bar.timeline.set_spans(
            [(s.start, s.end, s.protected) for sp in self._spans.values() for s in sp.spans],
            [(m.time, m.kind, m.label) for sp in self._spans.values() for m in sp.markers],
        )

    def seek(self, t: float) -> None:
        self.clock.seek(t)
        self._ask_city()

    def set_speed(self, speed: float) -> None:
        if self.players:
            self.clock.set_speed(speed)

    def _ask_city(self) -> None:
        if self.players:
            self.client.request_city(self.clock.position())

    def _on_city(self, city: CityAt) -> None:
        if not self.players:
            return
        self.city = city
        self.map_view.set_time_banner(f"PLAYBACK {clock_text(city.time)}")
        self.map_view.reset_assets(city_rows(city))
        self.panel.set_alarms(
            [f"P{a.priority} {a.title} ({a.asset_id}, {a.state.lower()})" for a in city.alarms]
        )

    def open_export(self) -> ExportDialog:
        """The export dialog for the cameras played here, a minute around the clock."""
        if self.export_dialog is None:
            self.export_dialog = ExportDialog(self.panel)
            ExportController(self.session, self.export_dialog)
        cams = [(p.camera_id, p.tile.camera_name) for p in self.players]
        self.export_dialog.set_cameras(cams, {c for c, _ in cams})
        t = self.clock.position()
        self.export_dialog.set_range(t - 30, t + 30)
        self.export_dialog.show()
        return self.export_dialog

    def stop(self) -> None:
        self._city_timer.stop()
        for p in self.players:
            p.close()
        for d in self.decoders:
            d.stop()
        self.players, self.decoders = [], []
        self.map_view.set_time_banner("")
