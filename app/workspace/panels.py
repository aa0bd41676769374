"""The panel registry: every kind of panel a workspace can place, and how to make one.

Adding a panel to the console is one `register(PanelKind(...))`: a kind name (used in workspace
files), a title, and a factory `(console, panel id, saved state) -> LivePanel`. A `multiple` kind can
have several instances ("mosaic-1", "mosaic-2"...), each with its own state; closing one removes it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from vigie.app.console import Console
from vigie.app.controllers.cardholders import CardholdersController
from vigie.app.controllers.map_view import MapController
from vigie.app.controllers.modes import ModesController
from vigie.app.controllers.mosaic import MosaicController
from vigie.app.controllers.playback_panel import PlaybackPanelController
from vigie.app.controllers.transport import TransportController, TspMapFeed
from vigie.app.theme import RESOURCES, map_style
from vigie.widgets.map.map_view import MapView
from vigie.widgets.mosaic.layouts import LAYOUTS
from vigie.widgets.mosaic.panel import MosaicPanel
from vigie.widgets.playback.panel import PlaybackPanel

PRESENTATION_LABEL_PT = 24.0  # read from 2-5 m away: labels at least 24 pt (docs/ux.md)


class LivePanel:
    """A panel on the console: its widget, and what it shows (saved in the workspace). `owned`: the
    widget was made for this panel and goes with it; otherwise it belongs to the console (the asset
    table, the alarm list...) and outlives the panel."""

    def __init__(self, widget: QWidget, owned: bool = False) -> None:
        self.widget = widget
        self.owned = owned

    def state(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        """Show what a workspace says (a panel kept across a workspace switch)."""

    def set_shown(self, shown: bool) -> None:
        """The panel became visible or hidden (closed, behind another tab, its window hidden)."""

    def set_open(self, open_: bool) -> None:
        """The operator opened or closed the panel (a tab behind another one is still open)."""

    def close(self) -> None:
        """The panel is going away for good: stop what it runs."""


@dataclass(frozen=True)
class PanelKind:
    kind: str
    title: str
    create: Callable[[Console, str, dict], LivePanel]
    multiple: bool = False


REGISTRY: dict[str, PanelKind] = {}


def register(kind: PanelKind) -> PanelKind:
    REGISTRY[kind.kind] = kind
    return kind


def title_of(panel_id: str, kind: str) -> str:
    spec = REGISTRY.get(kind)
    title = spec.title if spec else kind
    m = re.fullmatch(r".+-(\d+)", panel_id)
    return f"{title} {m.group(1)}" if spec and spec.multiple and m and m.group(1) != "1" else title


def next_id(kind: str, taken: set[str]) -> str:
    n = 1
    while f"{kind}-{n}" in taken:
        n += 1
    return f"{kind}-{n}"


# ---- the built-in panels ----------------------------------------------------------------------


class MapPanel(LivePanel):
    def __init__(self, console: Console, view: MapView, ctl: MapController, operated: bool) -> None:
        super().__init__(view, owned=True)
        self.console, self.view, self.ctl, self.operated = console, view, ctl, operated

    def state(self) -> dict:
        return {"view": self.ctl.current_view} if self.ctl.current_view else {}

    def restore(self, state: dict) -> None:
        if state.get("view"):
            self.ctl.current_view = state["view"]
            self.view.set_view(state["view"])

    def close(self) -> None:
        if self.operated:
            self.console.detach_map(self.ctl)


def make_map(console: Console, panel_id: str, state: dict, controls: bool = True) -> MapPanel:
    """The city map; without controls (presentation mode) it only shows, bigger, and takes no part in selection."""
    view = MapView(RESOURCES / "map" / "index.html", map_style())
    ctl = MapController(
        console.session,
        console.assets,
        view,
        tiles=console.tiles,
        remember_view=False,
        initial_view=state.get("view") or None,
    )
    if controls:
        console.attach_map(ctl)
    else:
        view.set_controls_visible(False)
        view.web.setZoomFactor(1.5)  # markers and names readable from the back of the room
    ctl.refresh()  # made after the snapshot: draw what the console already knows
    # Incidents and routes on every map, presentation ones too (read from the back of the room).
    console.dispatch_ctl.sig_map.connect(ctl.set_dispatch)
    ctl.set_dispatch(*console.dispatch_ctl.map_payload())
    # Junctions granting or denying transit priority (docs/transport.md), on every map.
    TspMapFeed(console.session, view, view.tsp)
    return MapPanel(console, view, ctl, operated=controls)


class MosaicLivePanel(LivePanel):
    def __init__(self, console: Console, panel: MosaicPanel, ctl: MosaicController) -> None:
        super().__init__(panel, owned=True)
        self.console, self.panel, self.ctl = console, panel, ctl

    def state(self) -> dict:
        return self.panel.mosaic.view_state()

    def restore(self, state: dict) -> None:
        if any(state.get("cameras", [])):
            self.ctl.apply_view(state)
        elif state.get("layout") in LAYOUTS:
            self.panel.mosaic.set_layout(state["layout"])

    def set_shown(self, shown: bool) -> None:
        self.ctl.set_paused(not shown)

    def close(self) -> None:
        self.console.drop_mosaic(self.ctl)


def make_mosaic(console: Console, panel_id: str, state: dict, controls: bool = True) -> MosaicLivePanel:
    """A camera mosaic with its own layout, cameras and streams; without controls (presentation mode) it has
    no toolbar, big labels, and takes no part in the routes (alarm video goes to operated mosaics)."""
    panel = MosaicPanel()
    layout = state.get("layout", "3x3" if not controls else "2x2")
    if layout in LAYOUTS:
        panel.mosaic.set_layout(layout)
    if not controls:
        panel.set_controls_visible(False)
        panel.mosaic.set_overlay(PRESENTATION_LABEL_PT, show_fps=False)
        panel.mosaic.select(-1)  # nobody picks a tile in presentation mode: no selection border
    view = {"layout": panel.mosaic.layout_name, "cameras": list(state.get("cameras", []))}
    ctl = console.new_mosaic(panel, f"{panel_id}:tile", view, operated=controls)
    if controls:
        console.mosaic_keys.bind_panel(panel.mosaic)
    ctl.sig_show_on_map.connect(console.show_on_map)
    ctl.sig_details.connect(console.show_details)
    return MosaicLivePanel(console, panel, ctl)


class AlarmVideoPanel(MosaicLivePanel):
    """The alarm preview: the selected alarm's cameras, never the operator's own mosaics (which an
    alarm leaves alone). Not saved with cameras: it shows whatever alarm is selected."""

    def state(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        pass

    def close(self) -> None:
        if self.console.alarm_video_ctl is self.ctl:
            self.console.alarm_video_ctl = None
        super().close()


def make_alarm_video(console: Console, panel_id: str, state: dict) -> AlarmVideoPanel:
    panel = MosaicPanel()
    panel.set_controls_visible(False)
    panel.set_caption("Alarm video: select an alarm to see its cameras here")
    ctl = console.new_mosaic(panel, f"{panel_id}:tile", None, operated=False, alarm_preview=True)
    console.mosaic_keys.bind_panel(panel.mosaic)
    ctl.sig_show_on_map.connect(console.show_on_map)
    ctl.sig_details.connect(console.show_details)
    console.alarm_video_ctl = ctl
    return AlarmVideoPanel(console, panel, ctl)


register(PanelKind("assets", "Assets", lambda c, _pid, _s: LivePanel(c.asset_panel)))
register(PanelKind("detail", "Asset detail", lambda c, _pid, _s: LivePanel(c.detail)))
register(PanelKind("alarms", "Alarms", lambda c, _pid, _s: LivePanel(c.alarm_ctl.panel)))
register(PanelKind("map", "City map", make_map))
register(PanelKind("mosaic", "Cameras", make_mosaic, multiple=True))
register(PanelKind("alarm-video", "Alarm video", make_alarm_video))


class AuditPanel(LivePanel):
    """The audit trail; it asks the backend again each time it comes into view. Its targets read
    as names, and a double-click opens what a record touched."""

    def __init__(self, console: Console) -> None:
        super().__init__(console.audit_ctl.view)
        self.ctl = console.audit_ctl
        self.ctl.model.name_of = lambda i: _name_of(console, i)
        self.ctl.open_target = lambda action, i: _open_target(console, action, i)

    def set_shown(self, shown: bool) -> None:
        if shown:
            self.ctl.query()


def _name_of(console: Console, target_id: str) -> str:
    rec = console.store.record(target_id)
    if rec is not None:
        return rec.name
    alarm = console._alarm(target_id)
    return f"P{alarm.priority} {alarm.message} — {alarm.asset_name}" if alarm is not None else ""


def _open_target(console: Console, action: str, target_id: str) -> bool:
    """An asset: its detail and the map on it; an alarm: its asset and its cameras; a wall: the
    walls panel."""
    if console.store.record(target_id) is not None:
        console.show_on_map(target_id)
        console.show_details(target_id)
        return True
    alarm = console._alarm(target_id)
    if alarm is not None:
        console.show_on_map(alarm.asset_id)
        console.show_details(alarm.asset_id)
        console.show_alarm_video(list(alarm.camera_ids), f"Alarm video · P{alarm.priority} {alarm.message}")
        return True
    if action.startswith("wall") and target_id in console.wall_ctl.names():
        console.sig_show_panel.emit("walls")
        return True
    return False


register(PanelKind("audit", "Audit trail", lambda c, _pid, _s: AuditPanel(c)))
register(PanelKind("walls", "Video walls", lambda c, _pid, _s: LivePanel(c.wall_ctl.panel)))


# ---- dispatch (app/controllers/dispatch.py) ----------------------------------------------------

register(PanelKind("incidents", "Incidents", lambda c, _pid, _s: LivePanel(c.dispatch_ctl.list_panel)))
register(PanelKind("incident", "Incident detail", lambda c, _pid, _s: LivePanel(c.dispatch_ctl.detail)))
register(PanelKind("units", "Unit board", lambda c, _pid, _s: LivePanel(c.dispatch_ctl.board)))
register(
    PanelKind("recommend", "Recommended units", lambda c, _pid, _s: LivePanel(c.dispatch_ctl.recommendation))
)


class ModesLivePanel(LivePanel):
    """City modes (activate, follow, return, journal); it asks for the modes again when shown."""

    def __init__(self, console: Console) -> None:
        self.ctl = ModesController(console, console.session)
        super().__init__(self.ctl.panel, owned=True)

    def set_shown(self, shown: bool) -> None:
        # The preview's rings stay on the map while the panel is open, even behind the map's tab
        # ("Show on map" brings the map over it); they go when it closes.
        if shown:
            self.ctl.refresh()
            self.ctl.panel.highlight_preview(fit=False)

    def set_open(self, open_: bool) -> None:
        if not open_:
            self.ctl.highlight([])

    def close(self) -> None:
        self.ctl.highlight([])


register(PanelKind("modes", "City modes", lambda c, _pid, _s: ModesLivePanel(c)))


class CardholdersLivePanel(LivePanel):
    """Cardholders and exceptions (supervisors set them); the access decisions stream only while shown."""

    def __init__(self, console: Console) -> None:
        self.ctl = CardholdersController(console, console.session, console.session.cardholders)
        super().__init__(self.ctl.panel, owned=True)

    def set_shown(self, shown: bool) -> None:
        if shown:
            self.ctl.refresh()
        self.ctl.set_watching(shown)

    def close(self) -> None:
        self.ctl.set_watching(False)


register(PanelKind("cardholders", "Cardholders and exceptions", lambda c, _pid, _s: CardholdersLivePanel(c)))


class TransportLivePanel(LivePanel):
    """Transport (docs/transport.md): line diagrams, corridor chart, junctions; live while shown."""

    def __init__(self, console: Console) -> None:
        self.ctl = TransportController(console.session, console.command_ctl, parent=console)
        super().__init__(self.ctl.panel, owned=True)

    def set_shown(self, shown: bool) -> None:
        self.ctl.set_shown(shown)

    def close(self) -> None:
        self.ctl.set_shown(False)


register(PanelKind("transport", "Transport", lambda c, _pid, _s: TransportLivePanel(c)))


class PlaybackLivePanel(LivePanel):
    """Playback (docs/recording.md, Console): tiles on one clock and the map in time mode."""

    def __init__(self, console: Console) -> None:
        self.map_view = MapView(RESOURCES / "map" / "index.html", map_style())
        self.panel = PlaybackPanel(self.map_view)
        self.ctl = PlaybackPanelController(console.session, self.panel, self.map_view)
        super().__init__(self.panel, owned=True)
        mosaic = console.mosaic_ctl
        names = {r.id: r.name for r in console.assets.records() if r.kind == "camera"}
        cams = [c for c in (mosaic.mosaic.cameras if mosaic else []) if c][:16]
        if cams:  # the cameras of the main mosaic, from two minutes ago
            self.ctl.play([(c, names.get(c, c)) for c in cams[:4]], time.time() - 120)

    def close(self) -> None:
        self.ctl.stop()


register(PanelKind("playback", "Playback", lambda c, _pid, _s: PlaybackLivePanel(c)))
