"""Drives the mosaic: which camera each slot holds (app/models/mosaic_slots.py), which tiles stream
and at what profile (SUB for tiles, MAIN for a maximised or big one; hidden tiles stop), fed by
the one tile feeder (app/wall/feeds.py). Also PTZ, snapshots, tours, drops and named views, and
each tile's camera status (FAULT...) from the asset store.

An alarm never rearranges the operator's own mosaic: its cameras go to the alarm video preview (a
mosaic made with `alarm_preview=True`, see app/workspace/panels.py); other mosaics only mark the
tiles that already show one of them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
from PySide6.QtCore import QObject, QPoint, QRectF, QSettings, Qt, Signal
from PySide6.QtWidgets import QMenu

from vigie.app import city_time
from vigie.app.client.session import Session
from vigie.app.controllers.playback import TilePlayer
from vigie.app.models.asset_table import AssetTableModel
from vigie.app.models.assets import AssetStore
from vigie.app.models.mosaic_slots import MosaicSlots
from vigie.app.models.records import CameraInfo
from vigie.app.video.decoder import FrameDecoder
from vigie.app.wall.feeds import TileFeeds
from vigie.widgets.mosaic.layouts import MAX_TILES
from vigie.widgets.mosaic.panel import MosaicPanel
from vigie.widgets.mosaic.tour import Tour
from vigie.widgets.playback.controls import PlaybackBar

MAIN_ABOVE = (960, 540)  # a tile at least this big gets the MAIN profile even when not maximised


def snapshots_dir() -> Path:
    from platformdirs import user_pictures_dir

    return Path(user_pictures_dir()) / "Vigie"


PREVIEW_LAYOUTS = ((1, "1x1"), (4, "2x2"), (9, "3x3"))  # an alarm preview's layout by camera count


class MosaicController(QObject):
    sig_message = Signal(str)  # for the status bar
    sig_show_on_map = Signal(str)  # a tile's camera, from its menu
    sig_details = Signal(str)  # a tile's camera, from its menu
    _sig_snapshot_done = Signal(int, str)  # slot, message (from the snapshot worker)

    def __init__(
        self,
        session: Session,
        model: AssetStore | AssetTableModel,
        panel: MosaicPanel,
        max_fps: float = 12.0,
        persist: bool = True,
        stream_prefix: str = "tile",
        initial_view: dict | None = None,
        exclude: Callable[[], set[str]] | None = None,
        request_cameras: bool = True,
        alarm_preview: bool = False,
    ) -> None:
        """`persist`: keep the current view in QSettings (a console with workspaces keeps it there
        instead and gives it back as `initial_view`). `stream_prefix` keeps the session's stream keys
        of several mosaics apart. `exclude`: cameras a fresh mosaic does not fill with (the ones other
        mosaics show). `request_cameras`: ask the session for the camera list on each snapshot (a
        console with several mosaics asks once for all). `alarm_preview`: the mosaic shows the
        selected alarm's cameras and nothing else (never filled, never saved as a view)."""
        super().__init__(panel)
        self.session, self.model, self.panel = session, model, panel
        self.mosaic = panel.mosaic
        self.max_fps = max_fps
        self.persist = persist
        self.stream_prefix = stream_prefix
        self.initial_view = initial_view
        self.exclude = exclude or set
        self.paused = False  # the mosaic cannot be seen (closed, a hidden tab): no streams
        self.alarm_preview = alarm_preview
        self.cameras: dict[str, CameraInfo] = {}
        self.slots = MosaicSlots(self.mosaic.cameras)  # the widget shows the same list
        self.feeds = TileFeeds(session, prefix=stream_prefix, max_fps=max_fps, parent=self, controls=True)
        self.tour: Tour | None = None
        self.players: dict[int, TilePlayer] = {}  # slots in playback (app/controllers/playback.py)
        for tile in self.mosaic.tiles:
            tile.sig_dropped.connect(lambda ids, s=tile.index: self.drop(s, ids))
            tile.sig_context.connect(lambda pos, s=tile.index: self._context_menu(s, pos))
            tile.sig_ptz.connect(lambda *a, s=tile.index: self._ptz(s, *a))
            tile.sig_crop.connect(lambda crop, t=tile: self.feeds.decoder(t).set_crop(crop))
            tile.sig_resized.connect(lambda _size, s=tile.index: self._maybe_reprofile(s))
        self.mosaic.sig_changed.connect(self.sync)
        panel.sig_save_view.connect(self.save_view)
        panel.sig_load_view.connect(self.load_view)
        panel.sig_tour.connect(self._tour_all)
        panel.sig_full_screen_changed.connect(lambda _on: self.sync())
        panel.sig_snapshot.connect(lambda: self.snapshot(self.mosaic.selected))
        self._sig_snapshot_done.connect(
            lambda s, msg: (self.mosaic.tiles[s].show_message(msg), self.sig_message.emit(msg))
        )
        session.video.sig_cameras.connect(self._on_cameras)
        session.video.sig_ptz_result.connect(self._on_ptz_result)
        if request_cameras:
            model.sig_reset.connect(session.video.request_cameras)
        store = getattr(model, "store", model)  # the table model shows a store: follow that
        store.sig_changed.connect(self._on_asset_changes)
        store.sig_reset.connect(self._refresh_statuses)
        session.views.sig_views.connect(self._on_views)
        session.views.sig_result.connect(lambda _ok, msg: self.sig_message.emit(msg))
        session.core.sig_logged_in.connect(lambda _u, _r: panel.set_may_share(session.may("SUPERVISOR")))
        panel.set_may_share(session.may("SUPERVISOR"))
        self._on_views([])

    # ---- cameras and streams -------------------------------------------------------------------

    def set_cameras(self, cameras: dict[str, CameraInfo]) -> None:
        """The camera list, for a mosaic made after the session delivered it."""
        self.feeds.set_cameras(cameras)
        self._on_cameras(cameras)

    def _on_cameras(self, cameras: dict[str, CameraInfo]) -> None:
        """Names, PTZ and direct URLs of the cameras (the feeds relabel the tiles already placed)."""
        self.cameras = cameras
        if self.slots.is_empty() and not self.alarm_preview:
            self._restore_or_fill()
        self.sync()

    def _restore_or_fill(self) -> None:
        saved = QSettings().value("mosaic/current", "", str) if self.persist else ""
        view = json.loads(saved) if saved else self.initial_view
        if view and any(view.get("cameras", [])):
            self.apply_view(view)
            return
        if view:  # a layout without cameras: fill it
            self.mosaic.set_layout(view.get("layout", self.mosaic.layout_name))
        # A fresh mosaic: the first cameras that are up and no other mosaic shows, centre first.
        cams = sorted(
            (r for r in self.model.records() if r.kind == "camera" and r.status == "ok"),
            key=lambda r: (r.district != "Centre-Ville", r.id),
        )
        for slot, cam in self.slots.fill((r.id for r in cams), self.mosaic.visible_slots(), self.exclude()):
            self._assign(slot, cam)
        self.sync()

    def set_paused(self, paused: bool) -> None:
        """A mosaic nobody can see streams nothing; shown again, its visible tiles stream again."""
        if paused != self.paused:
            self.paused = paused
            self.sync()

    def place(self, slot: int, camera_id: str) -> None:
        self._assign(slot, camera_id)
        self.sync()

    def _assign(self, slot: int, camera_id: str) -> None:
        """A new camera in a slot: labelled now, streamed on the next sync() if visible (every
        caller syncs next: a visible tile then switches camera inside its video call)."""
        tile = self.mosaic.tiles[slot]
        self.slots.assign(slot, camera_id)
        rec = self.model.record(camera_id) if camera_id else None
        self.feeds.label(tile, camera_id, rec.name if rec else camera_id)
        if rec is not None:
            tile.set_status(rec.status, rec.reason)

    def _on_asset_changes(self, changes: list) -> None:
        """A camera on a tile changed state: its tile says so (FAULT never shows as healthy)."""
        shown = self.slots.shown()
        if not shown:
            return
        for _old, new in changes:
            if new.id in shown:
                for tile in self.mosaic.tiles:
                    if tile.camera_id == new.id:
                        tile.set_status(new.status, new.reason)

    def _refresh_statuses(self) -> None:
        for tile in self.mosaic.tiles:
            rec = self.model.record(tile.camera_id) if tile.camera_id else None
            if rec is not None:
                tile.set_status(rec.status, rec.reason)

    @property
    def streams(self) -> dict[int, tuple[str, str]]:
        """slot -> (camera id, profile) being streamed."""
        return {t.index: self.feeds.streams[id(t)] for t in self.mosaic.tiles if id(t) in self.feeds.streams}

    @property
    def decoders(self) -> dict[int, FrameDecoder]:
        """slot -> its decoding worker (tiles that streamed at least once)."""
        return {t.index: d for t in self.mosaic.tiles if (d := self.feeds.decoder_of(t)) is not None}

    def _profile(self, slot: int) -> str:
        info = self.cameras.get(self.slots.camera(slot))
        if info is not None and info.direct:
            return "direct"  # the camera's own stream, whatever the tile size
        tile = self.mosaic.tiles[slot]
        big = tile.width() >= MAIN_ABOVE[0] and tile.height() >= MAIN_ABOVE[1]
        return "MAIN" if self.mosaic.maximised == slot or big else "SUB"

    def _maybe_reprofile(self, slot: int) -> None:
        current = self.feeds.streams.get(id(self.mosaic.tiles[slot]))
        if current is not None and current[1] != self._profile(slot):
            self.sync()

    def sync(self) -> None:
        """Streams follow what is visible: open, switch profile, or stop."""
        # Full screen shows the mosaic whatever its panel (a tab behind another) looks like.
        seen = not self.paused or self.panel.is_full_screen()
        visible = set(self.mosaic.visible_slots()) if seen else set()
        for slot in range(MAX_TILES):
            cam, tile = self.slots.camera(slot), self.mosaic.tiles[slot]
            if slot in self.players:
                continue  # its Play stream feeds it
            if cam and slot in visible:
                self.feeds.stream(tile, cam, self._profile(slot))
            else:
                self.feeds.hide(tile)
        if self.persist:
            QSettings().setValue("mosaic/current", json.dumps(self.mosaic.view_state()))

    def stop(self) -> None:
        if self.tour:
            self.tour.stop()
        self.feeds.stop()

    # ---- operator actions ----------------------------------------------------------------------

    def drop(self, slot: int, ids: list[str]) -> None:
        """Cameras dropped on a tile fill it and the visible tiles after it."""
        cams = [i for i in ids if (r := self.model.record(i)) is not None and r.kind == "camera"]
        if not cams:
            self.sig_message.emit("Only cameras can be shown in the mosaic")
            return
        for s, cam in self.slots.drop_targets(slot, cams, self.mosaic.visible_slots()):
            self.place(s, cam)

    def show_camera(self, camera_id: str) -> None:
        """Put a camera in the selected tile ("show in mosaic", double-click in the table)."""
        visible = self.mosaic.visible_slots()
        there = self.slots.slot_of(camera_id)
        if there in visible:
            self.mosaic.select(there)
            return
        self.place(self.mosaic.selected, camera_id)
        self.mosaic.select(self.slots.next_visible(self.mosaic.selected, visible))

    def show_linked(self, camera_ids: list[str]) -> None:
        """The operator asked for these cameras here (an incident's scene cameras): they go in
        the first visible tiles, marked as linked."""
        known = [c for c in camera_ids if c in self.cameras or self.model.record(c) is not None]
        for slot, cam in self.slots.linked(known, self.mosaic.visible_slots()):
            self.place(slot, cam)
        self.mark_linked(known)
        if not known:
            self.sig_message.emit("No camera covers this alarm")

    def preview_alarm(self, camera_ids: list[str], caption: str = "") -> None:
        """An alarm was selected. The alarm preview shows its cameras, and only them; any other
        mosaic is left as the operator arranged it and only marks the tiles already showing one."""
        known = [c for c in camera_ids if c in self.cameras or self.model.record(c) is not None]
        if self.alarm_preview:
            self.panel.set_caption(caption or "Alarm video")
            self.stop_tour()
            n = max(1, len(known))
            self.mosaic.set_layout(next((name for size, name in PREVIEW_LAYOUTS if n <= size), "3x3"))
            for slot in range(MAX_TILES):
                wanted = known[slot] if slot < min(len(known), 9) else ""
                if self.slots.camera(slot) != wanted:
                    self._assign(slot, wanted)
            self.sync()
        self.mark_linked(known)

    def mark_linked(self, camera_ids: list[str]) -> None:
        """The orange border on the tiles showing these cameras (it goes with the camera: a tile
        whose camera changes loses it, see VideoTile.set_camera)."""
        linked = set(camera_ids)
        for tile in self.mosaic.tiles:
            flag = bool(tile.camera_id) and tile.camera_id in linked
            if tile.linked != flag:
                tile.linked = flag
                tile.update()

    def _ptz(self, slot: int, action: str, pan: float, tilt: float, zoom: float, preset: int) -> None:
        cam = self.slots.camera(slot)
        if not cam:
            return
        if action == "zoom":  # mouse wheel: a short zoom the camera stops by itself
            self.session.video.ptz(cam, "move", zoom=zoom, timeout_s=0.4)
        elif action == "move":
            self.session.video.ptz(cam, "move", pan=pan, tilt=tilt, zoom=zoom, timeout_s=2.0)
        else:
            self.session.video.ptz(cam, action, preset=preset)

    def _on_ptz_result(self, camera_id: str, ok: bool, message: str) -> None:
        for slot, cam in enumerate(self.slots.cameras):
            if cam == camera_id and slot in self.mosaic.visible_slots():
                self.mosaic.tiles[slot].show_message(message if ok else f"PTZ refused: {message}")

    def snapshot(self, slot: int, directory: Path | None = None) -> None:
        """Save the tile's newest picture at full resolution, with camera name and time, off the GUI thread."""
        cam = self.slots.camera(slot)
        dec = self.feeds.decoder_of(self.mosaic.tiles[slot])
        if not cam or dec is None:
            return
        name = self.mosaic.tiles[slot].camera_name
        folder = directory or snapshots_dir()

        def work() -> None:
            frame, captured = dec.full_picture()
            if frame is None:
                self._sig_snapshot_done.emit(slot, "No picture to save yet")
                return
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", city_time.localtime(captured))
            text = f"{name} - {stamp}".encode("ascii", "replace").decode()
            h = frame.shape[0]
            cv2.rectangle(frame, (0, h - 34), (frame.shape[1], h), (0, 0, 0), -1)
            cv2.putText(
                frame, text, (10, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA
            )
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{cam}_{time.strftime('%Y%m%d-%H%M%S', city_time.localtime(captured))}.png"
            ok = cv2.imwrite(str(path), frame)
            self._sig_snapshot_done.emit(slot, f"Snapshot saved: {path}" if ok else f"Could not write {path}")

        threading.Thread(target=work, name="snapshot", daemon=True).start()

    def _tour_cameras(self, district: str | None = None) -> list[str]:
        return sorted(
            r.id
            for r in self.model.records()
            if r.kind == "camera" and r.status != "offline" and (district is None or r.district == district)
        )

    def start_tour(self, cameras: list[str], slots: list[int], dwell_s: float = 10.0) -> None:
        self.stop_tour()
        if not cameras or not slots:
            self.sig_message.emit("No camera to tour")
            self.panel.tour.setChecked(False)
            return
        self.tour = Tour(cameras, slots, dwell_s, self)
        self.tour.sig_step.connect(lambda page: [self.place(s, c) for s, c in page])
        self.tour.start()

    def stop_tour(self) -> None:
        if self.tour is not None:
            self.tour.stop()
            self.tour = None

    def _tour_all(self, on: bool) -> None:
        if on:
            self.start_tour(self._tour_cameras(), self.mosaic.visible_slots())
        else:
            self.stop_tour()

    def play_back(self, slot: int, start: float) -> TilePlayer:
        """The tile plays its camera's recording from `start`, with a timeline, until "back to live"."""
        tile = self.mosaic.tiles[slot]
        self.feeds.hide(tile)
        bar = PlaybackBar()
        bar.compact()  # a small tile: its header already shows the PLAYBACK time
        player = TilePlayer(self.session.playback, tile, self.feeds.decoder(tile), start, bar)
        self.players[slot] = player
        player.sig_closed.connect(lambda: (self.players.pop(slot, None), self.sync()))
        return player

    def _context_menu(self, slot: int, pos: QPoint) -> None:
        tile = self.mosaic.tiles[slot]
        menu = QMenu(self.panel)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if tile.camera_id:
            cam = tile.camera_id
            menu.addAction("Show on map").triggered.connect(lambda: self.sig_show_on_map.emit(cam))
            menu.addAction("Details").triggered.connect(lambda: self.sig_details.emit(cam))
            menu.addAction("Full screen\tEnter").triggered.connect(lambda: self._full_screen(slot))
            menu.addSeparator()
            menu.addAction("Snapshot").triggered.connect(lambda: self.snapshot(slot))
            menu.addAction("Hide statistics" if tile.show_stats else "Show statistics").triggered.connect(
                lambda: (setattr(tile, "show_stats", not tile.show_stats), tile.update())
            )
            menu.addAction("Reset digital zoom").triggered.connect(lambda: tile.set_crop(QRectF(0, 0, 1, 1)))
            if slot in self.players:
                menu.addAction("Back to live").triggered.connect(self.players[slot].close)
            else:
                menu.addAction("Play back (from 1 min ago)").triggered.connect(
                    lambda: self.play_back(slot, time.time() - 60)
                )
            rec = self.model.record(tile.camera_id)
            if rec is not None:
                menu.addAction(f"Tour the cameras of {rec.district} here").triggered.connect(
                    lambda: self.start_tour(self._tour_cameras(rec.district), [slot])
                )
        if self.tour is not None:
            menu.addAction("Stop tour").triggered.connect(self.stop_tour)
        menu.addAction(
            "Restore layout" if self.mosaic.maximised == slot else "Fill the mosaic"
        ).triggered.connect(lambda: self.mosaic.toggle_maximise(slot))
        if tile.camera_id:
            menu.addAction("Clear tile").triggered.connect(lambda: (self.mosaic.clear(slot), self.sync()))
        self.panel.add_send_menus(menu, slot)  # "Send camera / this view to wall ▸" (if walls)
        menu.popup(pos)  # never exec(): nothing modal in a control room

    def _full_screen(self, slot: int) -> None:
        self.mosaic.select(slot)
        self.panel.toggle_full_screen(slot)

    # ---- named views ---------------------------------------------------------------------------

    def _views(self) -> dict[str, dict]:
        """The user's saved views and the room's, by the label the views list shows (the backend
        keeps them: they follow the user to any console, app/client/views.py)."""
        return {
            v.label: {"layout": v.layout, "cameras": list(v.camera_ids)} for v in self.session.views.views
        }

    def _on_views(self, _views: list) -> None:
        self.panel.set_view_names(list(self._views()))

    def save_view(self, name: str, shared: bool | None = None) -> None:
        """Save the current view under `name` for this user (or, `shared`, for the room)."""
        state = self.mosaic.view_state()
        room = self.panel.share.isChecked() if shared is None else shared
        self.session.views.save(name, state["layout"], list(state["cameras"]), room)

    def load_view(self, name: str) -> None:
        view = self._views().get(name)
        if view is None:
            self.sig_message.emit(f"No view named {name!r}")
            return
        self.apply_view(view)

    def apply_view(self, view: dict) -> None:
        self.stop_tour()
        self.mosaic.set_layout(view.get("layout", "2x2"))
        for slot, cam in self.slots.view(view.get("cameras", [])):
            self._assign(slot, cam)
        self.sync()
