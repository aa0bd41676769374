"""Dispatch in the console: incidents and units from the session into their stores and views, and
the dispatcher's actions back (create, note, tick, status, recommend, assign, unit status).

One selected incident for every dispatch view: the list, the detail, the recommendation and the
map follow it. Creating an incident (from an alarm, the map or by hand) selects it when the
backend answers and asks for its recommendation at once, so a supervisor assigns the first unit
with one more action. Routes: an assignment made here brings the unit's route and ETA; for units
sent by others, the route is asked once (UnitService.Route) from the unit's position.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from vigie.app.client.session import Session
from vigie.app.controllers.connection import ConnectionWatch
from vigie.app.models.assets import AssetStore
from vigie.app.models.dispatch_records import (
    INCIDENT_LABELS,
    STATUS_KEYS,
    UNIT_LABELS,
    Candidate,
    IncidentRecord,
    duration_text,
    timer_level,
    type_for_alarm,
)
from vigie.app.models.incidents import ID_ROLE, IncidentListModel, IncidentStore, UnitBoardModel, UnitStore
from vigie.app.models.records import AlarmRecord
from vigie.widgets.dispatch.incident_detail import IncidentDetail
from vigie.widgets.dispatch.incident_list import IncidentListPanel
from vigie.widgets.dispatch.recommendation import RecommendationPanel
from vigie.widgets.dispatch.style import INCIDENT_STATUS_COLORS, UNIT_STATUS_COLORS, priority_color
from vigie.widgets.dispatch.unit_board import UnitBoard

NEAR_M = 250.0  # "cameras near the incident"
CAMERA_CONE_DEG = 35.0  # a camera covers what lies within its heading ± this, up to NEAR_M * 2
RECOMMEND_K = 5
MOVING = ("dispatched", "en_route")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: exact enough at a city's scale."""
    k = 111_320.0
    dx = (lon2 - lon1) * k * math.cos(math.radians((lat1 + lat2) / 2))
    dy = (lat2 - lat1) * k
    return math.hypot(dx, dy)


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dx = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    dy = lat2 - lat1
    return math.degrees(math.atan2(dx, dy)) % 360


class DispatchController(QObject):
    sig_message = Signal(str)
    sig_selected = Signal(object)  # IncidentRecord | None: the incident every dispatch view shows
    sig_map = Signal(object, object)  # incidents [dict], routes [dict] for the map (see MapView.set_dispatch)
    sig_focus = Signal(str, float, float)  # incident id, lat, lon: show it on the map
    sig_cameras = Signal(list)  # camera ids near an incident, for the mosaic
    sig_send_to_wall = Signal(str, object)  # wall, {"kind": "incident", "incident_id"}
    sig_types = Signal(list)  # [(code, name)] of the catalogue (the maps' "Create incident here ▸")

    def __init__(
        self,
        session: Session,
        assets: AssetStore,
        clock: Callable[[], float] = time.time,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.session, self.assets, self.clock = session, assets, clock
        self.incidents = IncidentStore(self)
        self.units = UnitStore(self)
        self.list_model = IncidentListModel(
            self.incidents, self.units, clock=lambda: self.clock(), parent=self
        )
        self.board_model = UnitBoardModel(self.units, clock=lambda: self.clock(), parent=self)
        self.list_panel = IncidentListPanel(self.list_model, ID_ROLE)
        self.detail = IncidentDetail()
        keys = {k: (s, UNIT_LABELS[s]) for k, s in STATUS_KEYS.items()}
        self.board = UnitBoard(self.board_model, ID_ROLE, keys)
        self.recommendation = RecommendationPanel()
        self.selected_id = ""
        self._created_keys: set[str] = set()  # creations asked here: select them when answered
        self._candidates: dict[str, list[Candidate]] = {}
        self.routes: dict[tuple[str, str], dict] = {}  # (incident, unit) -> {"points", "eta_at", ...}
        self._preview: tuple[str, str] | None = None
        self.types: list[tuple[str, str]] = []
        # Set by the console: where "New incident" puts it; how an alarm is named.
        self.place_for_new: Callable[[], tuple[float, float] | None] = lambda: None
        self.alarm_name: Callable[[str], str] = lambda alarm_id: alarm_id

        inc, units = session.incidents, session.units
        inc.sig_catalogue.connect(self._on_catalogue)
        inc.sig_snapshot.connect(self.incidents.reset)
        inc.sig_changes.connect(self.incidents.apply)
        inc.sig_incident.connect(self.incidents.apply_one)
        inc.sig_created.connect(self._on_created)
        inc.sig_recommendation.connect(self._on_recommendation)
        inc.sig_assigned.connect(self._on_assigned)
        inc.sig_result.connect(lambda ok, msg: self.sig_message.emit(msg))
        units.sig_snapshot.connect(self.units.reset)
        units.sig_changes.connect(self.units.apply)
        units.sig_unit.connect(self.units.apply_one)
        units.sig_result.connect(lambda ok, msg: self.sig_message.emit(msg))
        self.incidents.sig_changed.connect(self._on_incidents_changed)
        self.units.sig_changed.connect(self._on_units_changed)

        self.list_panel.sig_selected.connect(self.select)
        self.list_panel.sig_activated.connect(self.show_on_map)
        self.list_panel.sig_create.connect(self._create_by_hand)
        d = self.detail
        d.sig_step.connect(inc.step)
        d.sig_note.connect(inc.note)
        d.sig_status.connect(self._on_status)
        d.sig_cameras.connect(self.cameras_near_to_mosaic)
        d.sig_show_on_map.connect(self.show_on_map)
        d.sig_send_to_wall.connect(self.sig_send_to_wall)
        self.board.sig_fleet.connect(self.board_model.set_fleet)
        self.board.sig_status.connect(self._on_unit_key)
        self.recommendation.sig_assign.connect(self.assign)
        self.recommendation.sig_refresh.connect(self.recommend)
        self.recommendation.sig_preview.connect(self._on_preview)

        self._map_timer = QTimer(self, interval=250, singleShot=True)  # a burst of changes: one map update
        self._map_timer.timeout.connect(self._send_map)
        self._tick = QTimer(self.detail, interval=1000)  # the detail's timer: lives and dies with it
        self._tick.timeout.connect(self._refresh_detail)
        self._tick.start()
        self.link: ConnectionWatch | None = None
        self.set_rights("")

    # ---- roles -----------------------------------------------------------------------------

    def set_link(self, link: ConnectionWatch) -> None:
        """Follow the server link: actions off while it is lost (app/controllers/connection.py)."""
        self.link = link
        link.sig_changed.connect(lambda: self.set_rights(self.session.role))
        self.set_rights(self.session.role)

    def set_rights(self, role: str) -> None:
        """Viewers see; operators create, note, tick and set unit statuses; supervisors also
        assign, override, reassign and close (the backend decides anyway: this shapes the UI)."""
        operate, supervise = self.session.may("OPERATOR"), self.session.may("SUPERVISOR")
        who = role or "not logged in"
        why_op = f"Needs the OPERATOR role — you are {who}"
        why_sup = f"Needs the SUPERVISOR role — you are {who}"
        if self.link is not None:  # a lost server: nothing is sent, and the reason says why
            operate, why_op = self.link.gate(operate, why_op)
            supervise, why_sup = self.link.gate(supervise, why_sup)
        self.list_panel.set_create_allowed(operate, why_op)
        self.detail.set_rights(operate, supervise, why_op, why_sup)
        self.board.set_allowed(operate, why_op)
        self.recommendation.set_allowed(supervise, why_sup)

    # ---- selection -------------------------------------------------------------------------

    def select(self, incident_id: str) -> None:
        if incident_id == self.selected_id:
            return
        self.selected_id = incident_id
        inc = self.incidents.get(incident_id)
        self._refresh_detail()
        if self.list_panel.selected_id() != incident_id:
            self.list_panel.select(incident_id)
        self.recommendation.clear("Asking for the best units…" if inc and inc.is_open else "")
        if inc is not None and inc.is_open:
            self.recommend(incident_id)
        self._preview = None
        self.sig_selected.emit(inc)
        self._schedule_map()

    def selected(self) -> IncidentRecord | None:
        return self.incidents.get(self.selected_id)

    def _refresh_detail(self) -> None:
        inc = self.selected()
        self.detail.show_incident(self._detail_view(inc) if inc else None)

    def _detail_view(self, inc: IncidentRecord) -> dict:
        cat = self.incidents.catalogue
        now = self.clock()
        end = now if inc.is_open else (inc.resolved_at or inc.closed_at or now)
        alarms = [self.alarm_name(a) for a in inc.alarm_ids]
        return {
            "id": inc.id,
            "priority": inc.priority,
            "type_name": cat.name(inc.type),
            "status": inc.status,
            "status_label": INCIDENT_LABELS.get(inc.status, inc.status),
            "street": inc.street,
            "district": inc.district,
            "description": inc.description,
            "created_at": inc.created_at,
            "dispatched_at": inc.dispatched_at,
            "level": timer_level(inc, cat.thresholds.get(inc.priority), now),
            "age_text": (f"open for {duration_text(end - inc.created_at)}" if inc.created_at else "")
            + (f" · dispatched for {duration_text(end - inc.dispatched_at)}" if inc.dispatched_at else ""),
            "steps": [(s.id, s.text, s.required, s.done, s.done_by) for s in inc.steps],
            "timeline": [(e.time, e.user, e.kind, e.text) for e in inc.timeline],
            "alarms": alarms,
            "cameras": [self._asset_name(c) for c in inc.camera_ids],
            "units": [self._unit_text(u) for u in inc.unit_ids],
            "hold_reason": inc.hold_reason,
            "outcome": inc.outcome,
        }

    def _asset_name(self, asset_id: str) -> str:
        rec = self.assets.record(asset_id)
        return rec.name if rec else asset_id

    def _unit_text(self, unit_id: str) -> str:
        u = self.units.get(unit_id)
        if u is None:
            return unit_id
        route = self.routes.get((self.selected_id, unit_id))
        eta = ""
        if route and u.status in MOVING:
            eta = f", ETA {duration_text(max(0.0, route['eta_at'] - self.clock()))}"
        return f"{u.callsign} ({UNIT_LABELS.get(u.status, u.status)}{eta})"

    # ---- changes from the watches ----------------------------------------------------------

    def _on_catalogue(self, catalogue: Any) -> None:
        self.incidents.set_catalogue(catalogue)
        types = sorted(((t.code, t.name) for t in catalogue.types.values()), key=lambda t: t[1])
        self.types = types
        self.list_panel.set_types(types)
        self.sig_types.emit(types)

    def _on_incidents_changed(self, ids: set[str] | None) -> None:
        if ids is None or self.selected_id in ids:
            self._refresh_detail()
            inc = self.selected()
            if inc is not None and ids is not None:
                self.sig_selected.emit(inc)
        self._take_routes(ids)
        self._schedule_map()

    def _on_units_changed(self, ids: set[str] | None) -> None:
        counts = self.units.book.counts()
        self.board.set_summary(
            " · ".join(f"{UNIT_LABELS[s]} {n}" for s, n in sorted(counts.items(), key=lambda kv: kv[0]) if n)
        )
        inc = self.selected()
        if inc is not None and (ids is None or set(inc.unit_ids) & ids):
            self._refresh_detail()
        self._schedule_map()

    # ---- creating --------------------------------------------------------------------------

    def create_from_alarm(self, alarm: AlarmRecord) -> None:
        """One action: the alarm's place, cameras and asset, and the type its cause calls for."""
        if not self.session.may("OPERATOR"):
            self.sig_message.emit("Creating an incident needs the OPERATOR role")
            return
        code = type_for_alarm(alarm.cause, alarm.asset_kind, self.incidents.catalogue)
        key = self.session.incidents.create(
            code,
            alarm.lat,
            alarm.lon,
            priority=max(1, min(4, alarm.priority)),
            description=f"{alarm.message} — {alarm.asset_name}",
            alarm_ids=[alarm.id],
            asset_ids=[alarm.asset_id] if alarm.asset_id else [],
            camera_ids=list(alarm.camera_ids)[:20],
        )
        self._created_keys.add(key)
        self.sig_message.emit(f"Creating an incident from {alarm.asset_name or alarm.id}…")

    def create_at(
        self, lat: float, lon: float, type_code: str = "", priority: int = 0, description: str = ""
    ) -> None:
        """From the map ("Create incident here ▸ type") or by hand."""
        if not self.session.may("OPERATOR"):
            self.sig_message.emit("Creating an incident needs the OPERATOR role")
            return
        code = type_code or type_for_alarm("", "", self.incidents.catalogue)
        near = self._cameras_near(lat, lon, ())[:6]
        key = self.session.incidents.create(code, lat, lon, priority, description, camera_ids=near)
        self._created_keys.add(key)

    def _create_by_hand(self, type_code: str, priority: int, description: str) -> None:
        where = self.place_for_new()
        if where is None:
            self.sig_message.emit("Select an asset or open the map to place the new incident")
            return
        self.create_at(where[0], where[1], type_code, priority, description)

    def _on_created(self, key: str, inc: IncidentRecord) -> None:
        if key in self._created_keys:
            self._created_keys.discard(key)
            self.incidents.apply_one(inc)
            self.select(inc.id)

    # ---- recommending and assigning ----------------------------------------------------------

    def recommend(self, incident_id: str) -> None:
        self.session.incidents.recommend(incident_id, RECOMMEND_K)

    def _on_recommendation(self, incident_id: str, candidates: list[Candidate]) -> None:
        self._candidates[incident_id] = candidates
        if incident_id != self.selected_id:
            return
        inc = self.selected()
        title = f"Best units for {incident_id}" if candidates else f"No available unit for {incident_id}"
        assigned = [
            (u, self.units.get(u).callsign if self.units.get(u) else u) for u in (inc.unit_ids if inc else ())
        ]
        rows = [
            {
                "unit_id": c.unit.id,
                "callsign": c.unit.callsign,
                "status": c.unit.status,
                "eta_s": c.eta_s,
                "distance_m": c.distance_m,
            }
            for c in candidates
        ]
        self.recommendation.show_candidates(incident_id, title, rows, assigned)

    def assign(self, incident_id: str, unit_id: str, reason: str = "", replace_unit_id: str = "") -> None:
        self.session.incidents.assign(incident_id, unit_id, reason, replace_unit_id)

    def _on_assigned(self, _key: str, inc: IncidentRecord, route: Candidate | None, _override: bool) -> None:
        if route is not None and route.route:
            self._set_route(inc.id, route.unit.id, route.route, route.eta_s)
        if inc.id == self.selected_id:
            self.recommend(inc.id)  # the next best, should a second unit be needed

    def _on_preview(self, incident_id: str, unit_id: str) -> None:
        self._preview = (incident_id, unit_id)
        self._schedule_map()

    # ---- routes ----------------------------------------------------------------------------

    def _set_route(self, incident_id: str, unit_id: str, points: tuple | list, eta_s: float) -> None:
        self.routes[(incident_id, unit_id)] = {
            "points": [list(p) for p in points],
            "eta_at": self.clock() + eta_s,
        }
        self._schedule_map()

    def _take_routes(self, ids: set[str] | None) -> None:
        """The routes the incidents carry (each assigned unit's drive, computed when it was sent):
        no Route call for units another console dispatched. Routes of closed incidents, or of
        units no longer assigned, go."""
        book = self.incidents.book.incidents
        for iid in book if ids is None else ids:
            inc = book.get(iid)
            if inc is None:
                continue
            for r in inc.routes:
                self.routes[(inc.id, r.unit_id)] = {"points": [list(p) for p in r.points], "eta_at": r.eta_at}
        for key in [
            k
            for k in self.routes
            if k[0] not in book or not book[k[0]].is_open or k[1] not in book[k[0]].unit_ids
        ]:
            del self.routes[key]

    # ---- actions ---------------------------------------------------------------------------

    def _on_status(self, incident_id: str, status: str, text: str, override: bool) -> None:
        inc = self.incidents.get(incident_id)
        if status == "resume":
            status = "dispatched" if inc and inc.unit_ids else "new"
        reason = text if status == "on_hold" or override else ""
        outcome = text if status == "resolved" else ""
        self.session.incidents.update(incident_id, status, reason=reason, outcome=outcome, override=override)

    def _on_unit_key(self, unit_id: str, status: str) -> None:
        u = self.units.get(unit_id)
        if u is not None and u.status == status:
            return
        self.session.units.set_status(unit_id, status, "set from the unit board")

    def show_on_map(self, incident_id: str) -> None:
        inc = self.incidents.get(incident_id)
        if inc is not None:
            self.select(incident_id)
            self.sig_focus.emit(inc.id, inc.lat, inc.lon)

    def cameras_near(self, incident_id: str) -> list[str]:
        inc = self.incidents.get(incident_id)
        return [] if inc is None else self._cameras_near(inc.lat, inc.lon, inc.camera_ids)

    def _cameras_near(self, lat: float, lon: float, linked: tuple[str, ...]) -> list[str]:
        """Linked cameras first, then those within NEAR_M, then those looking at the place from
        up to twice as far (heading ± CAMERA_CONE_DEG), nearest first."""
        near: list[tuple[float, str]] = []
        for r in self.assets.records():
            if r.kind != "camera" or r.id in linked:
                continue
            d = distance_m(r.lat, r.lon, lat, lon)
            if d <= NEAR_M:
                near.append((d, r.id))
            elif d <= 2 * NEAR_M:
                off = abs((bearing_deg(r.lat, r.lon, lat, lon) - r.heading + 180) % 360 - 180)
                if off <= CAMERA_CONE_DEG:
                    near.append((d, r.id))
        return list(linked) + [c for _d, c in sorted(near)]

    def cameras_near_to_mosaic(self, incident_id: str) -> None:
        cams = self.cameras_near(incident_id)
        if not cams:
            self.sig_message.emit(f"No camera within {NEAR_M:.0f} m of {incident_id}")
            return
        self.sig_cameras.emit(cams)
        self.sig_message.emit(f"{len(cams)} camera(s) near {incident_id} in the mosaic")

    # ---- the map ---------------------------------------------------------------------------

    def _schedule_map(self) -> None:
        if not self._map_timer.isActive():
            self._map_timer.start()

    def map_payload(self) -> tuple[list[dict], list[dict]]:
        cat = self.incidents.catalogue
        items = []
        for inc in self.incidents.book.incidents.values():
            if not inc.is_open and inc.id != self.selected_id:
                continue
            items.append(
                {
                    "id": inc.id,
                    "lat": round(inc.lat, 6),
                    "lon": round(inc.lon, 6),
                    "priority": inc.priority,
                    "status": inc.status,
                    "type": inc.type,
                    "label": f"P{inc.priority} {cat.name(inc.type)}",
                    "color": priority_color(inc.priority),
                    "status_color": INCIDENT_STATUS_COLORS.get(inc.status, "#8b949e"),
                    "selected": inc.id == self.selected_id,
                }
            )
        routes = []
        for (iid, uid), r in self.routes.items():
            inc, u = self.incidents.get(iid), self.units.get(uid)
            if (
                inc is None
                or u is None
                or not inc.is_open
                or uid not in inc.unit_ids
                or u.status not in MOVING
            ):
                continue
            routes.append(
                {
                    "incident_id": iid,
                    "unit_id": uid,
                    "callsign": u.callsign,
                    "points": r["points"],
                    "eta_at": r["eta_at"],
                    "color": UNIT_STATUS_COLORS.get(u.status, "#f0883e"),
                    "selected": iid == self.selected_id,
                }
            )
        if self._preview and self._preview[0] == self.selected_id:
            cand = next(
                (c for c in self._candidates.get(self._preview[0], []) if c.unit.id == self._preview[1]), None
            )
            if cand is not None and cand.route:
                routes.append(
                    {
                        "incident_id": self._preview[0],
                        "unit_id": cand.unit.id,
                        "callsign": f"{cand.unit.callsign} (proposed)",
                        "points": [list(p) for p in cand.route],
                        "eta_at": self.clock() + cand.eta_s,
                        "color": "#8b949e",
                        "selected": True,
                        "proposed": True,
                    }
                )
        return items, routes

    def _send_map(self) -> None:
        items, routes = self.map_payload()
        self.sig_map.emit(items, routes)
