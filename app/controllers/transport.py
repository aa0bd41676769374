"""The Transport panel's controller: lines and junctions at each login, live vehicles every
`refresh_s` while the panel is shown, the corridor statistics, and the regulator's and
supervisor's actions sent as commands (TRAM_HOLD / TRAM_RELEASE / TRAM_SKIP_STATION,
SIGNAL_BUS_PRIORITY_ON/OFF, TSP_CONFIGURE from the junction rules editor) whose stages show
under the diagrams and the editor."""

from __future__ import annotations

import dataclasses
import time

from PySide6.QtCore import QObject, QTimer

from vigie.app.client.session import Session
from vigie.app.controllers.commands import CommandController
from vigie.app.models.commands import CommandState
from vigie.app.models.transit import (
    CorridorRow,
    JunctionRecord,
    PriorityRecord,
    TransitLine,
    TransitVehicleRecord,
    TspRuleValues,
)
from vigie.widgets.transport.line_diagram import DiagramLine, DiagramVehicle
from vigie.widgets.transport.panel import TransportPanel
from vigie.widgets.transport.rules_editor import JunctionRules

MODE_ORDER = {"tram": 0, "bus": 1, "shuttle": 2}


class TransportController(QObject):
    def __init__(
        self,
        session: Session,
        commands: CommandController,
        refresh_s: float = 2.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session, self.commands = session, commands
        self.panel = TransportPanel()
        self.lines: dict[str, TransitLine] = {}
        self._keys: dict[str, str] = {}  # idempotency key -> what it was, for the operator
        t = session.transit
        t.sig_lines.connect(self._on_lines)
        t.sig_vehicles.connect(self._on_vehicles)
        t.sig_junctions.connect(self._on_junctions)
        t.sig_corridor.connect(self._on_corridor)
        t.sig_failed.connect(lambda op, why: self.panel.set_command_state(f"Transport {op}: {why}"))
        session.commands.sig_command.connect(self._on_command)
        self.panel.sig_hold.connect(
            lambda v, s: self._send([v], "TRAM_HOLD", {"hold_seconds": s}, f"hold {v} {s} s")
        )
        self.panel.sig_release.connect(lambda v: self._send([v], "TRAM_RELEASE", {}, f"release {v}"))
        self.panel.sig_skip.connect(
            lambda v, st: self._send([v], "TRAM_SKIP_STATION", {"station_id": st}, f"{v} skips {st}")
        )
        self.panel.sig_tsp.connect(
            lambda j, on: self._send(
                [j],
                "SIGNAL_BUS_PRIORITY_ON" if on else "SIGNAL_BUS_PRIORITY_OFF",
                {},
                f"TSP {'on' if on else 'off'} at {j}",
            )
        )
        self.panel.sig_tsp_rules.connect(self._configure)
        self.timer = QTimer(self)
        self.timer.setInterval(int(refresh_s * 1000))
        self.timer.timeout.connect(self.refresh)
        session.core.sig_logged_in.connect(lambda _u, _r: self.load())
        link = getattr(parent, "link", None)
        if link is not None:
            link.sig_changed.connect(self._update_role)
        self._update_role()

    def _update_role(self) -> None:
        """TSP_CONFIGURE is an ordinary command: OPERATOR and above (the backend decides)."""
        role = self.session.role
        may = self.session.core.may("OPERATOR")
        why = f"Changing priority rules needs the OPERATOR role — you are logged in as {role or 'nobody'}."
        link = getattr(self.parent(), "link", None)  # the console's (app/controllers/connection.py)
        if link is not None:
            may, why = link.gate(may, why)
        self.panel.set_rules_editable(may, why)

    def load(self) -> None:
        self._update_role()
        self.session.transit.list_lines()
        self.refresh()

    def set_shown(self, shown: bool) -> None:
        if shown:
            self.load()
            self.timer.start()
        else:
            self.timer.stop()

    def refresh(self) -> None:
        t = self.session.transit
        t.list_vehicles()
        t.junctions()
        t.corridor()

    def _on_lines(self, lines: list[TransitLine]) -> None:
        ordered = sorted(lines, key=lambda x: (MODE_ORDER.get(x.mode, 3), len(x.id), x.id))
        self.lines = {x.id: x for x in ordered}
        diagrams = [
            DiagramLine(x.id, x.name, x.color, x.length_m, tuple((s.name, s.distance_m) for s in x.stops))
            for x in ordered
        ]
        stations = {x.id: [(s.id, s.name) for s in x.stops[1:-1]] for x in ordered if x.mode == "tram"}
        self.panel.set_lines(diagrams, stations)

    def _on_vehicles(self, vehicles: list[TransitVehicleRecord]) -> None:
        by_line: dict[str, list[DiagramVehicle]] = {}
        for v in vehicles:
            if v.state == "layover":
                continue
            by_line.setdefault(v.line_id, []).append(
                DiagramVehicle(v.id, v.distance_m, v.direction, v.deviation_s, v.headway_s, v.state == "held")
            )
        self.panel.set_vehicles(by_line)

    def _on_junctions(self, junctions: list[JunctionRecord]) -> None:
        self.panel.set_junctions(
            [
                (
                    j.id,
                    j.name,
                    ", ".join(j.line_ids),
                    j.enabled,
                    rules_words(j),
                )
                for j in junctions
            ],
            {j.id: JunctionRules(**dataclasses.asdict(j.rules)) for j in junctions if j.rules is not None},
        )

    def _configure(self, junction: str, rules: JunctionRules) -> None:
        what = f"TSP rules at {junction}"
        values = TspRuleValues(**dataclasses.asdict(rules))
        self._send([junction], "TSP_CONFIGURE", {"tsp_rules": values}, what)

    def _on_corridor(self, rows: list[CorridorRow]) -> None:
        hours: dict[float, list[float]] = {}
        for r in rows:
            h = hours.setdefault(r.hour, [0.0, 0.0, 0.0])
            h[0] += r.time_saved_s
            h[1] += r.signal_delay_s
            h[2] += r.cross_delay_s
        keys = sorted(hours)
        self.panel.chart.set_hours(
            [float(time.localtime(k).tm_hour) for k in keys],
            [hours[k][0] for k in keys],
            [hours[k][1] for k in keys],
            [hours[k][2] for k in keys],
        )

    def _send(self, ids: list[str], action_name: str, params: dict, what: str) -> None:
        if not ids or not ids[0]:
            return
        link = getattr(self.parent(), "link", None)
        if link is not None and not link.live:
            self.panel.set_command_state(f"{what}: not sent. {link.reason()}")
            return
        action = next((a.action for a in self.commands.actions if a.name == action_name), None)
        if action is None:
            self.panel.set_command_state(f"{what}: the backend does not offer {action_name}")
            return
        key = self.session.commands.execute(ids, action, params, "", False)
        self._keys[key] = what
        self.panel.set_command_state(f"{what}: sent")

    def _on_command(self, state: CommandState) -> None:
        what = self._keys.get(state.key)
        if what is None:
            return
        if state.error:
            self.panel.set_command_state(f"{what}: {state.error}")
            return
        stages = "; ".join(f"{t.stage.lower()}{' — ' + t.detail if t.detail else ''}" for t in state.targets)
        self.panel.set_command_state(f"{what}: {stages}")


def rules_words(j: JunctionRecord) -> str:
    """A junction's rules in one line of the Junctions table."""
    r = j.rules
    who = ""
    if r is not None:
        who = f"{'+'.join(r.classes) or 'bus+shuttle'} of {', '.join(r.lines) or 'every line'}; "
    text = f"{who}buses > {j.min_lateness_s} s late, cross wait ≤ {j.max_cross_wait_s} s, inhibit {j.inhibit_s} s"
    return text + (" — PREEMPTED" if j.preempted else "")


def map_rows(events: list[PriorityRecord]) -> list[dict]:
    """Priority events as the map's TSP layer takes them (widgets/map/tsp_layer.py)."""
    out = []
    for e in events:
        if e.kind == "granted":
            how = "extension" if e.strategy == "green_extension" else "early green"
            text = f"{e.line_id} {how} +{e.cross_delay_s:.0f} s"
        elif e.kind == "denied":
            text = f"{e.line_id} denied: {e.reason.split(' (')[0]}"
        elif e.kind == "preemption_start":
            text = f"PREEMPTED for {e.vehicle_id}"
        else:
            text = ""
        out.append(
            {
                "junction_id": e.junction_id,
                "lat": e.lat,
                "lon": e.lon,
                "kind": e.kind,
                "line": e.line_id,
                "vehicle": e.vehicle_id,
                "text": text,
            }
        )
    return out


class TspMapFeed(QObject):
    """Feeds one map's TSP layer from the priority watch; a child of the map view, so it goes
    (and stops being called) with it."""

    def __init__(self, session: Session, view: QObject, layer: object) -> None:
        super().__init__(view)
        self.layer = layer
        session.transit.sig_priority.connect(self.on_events)

    def on_events(self, events: list[PriorityRecord]) -> None:
        self.layer.add_events(map_rows(events))  # type: ignore[attr-defined]
