"""The cardholders and exceptions panel's controller: between CardholdersPanel
(widgets/modes/cardholders.py) and the cardholder client. It formats what the panel shows, says
whether the logged-in user may set and remove exceptions (the backend decides: SUPERVISOR), and
follows the access decisions while the panel is shown."""

from __future__ import annotations

from PySide6.QtCore import QObject

from vigie.app import city_time
from vigie.app.client.cardholders import CardholdersClient
from vigie.app.client.session import Session
from vigie.app.models.cardholders import (
    AccessEventLog,
    AccessEventRecord,
    AccessExceptionRecord,
    Building,
    Cardholder,
)
from vigie.widgets.modes.cardholders import CardholdersPanel


def when(t: float) -> str:
    return city_time.strftime("%d %b %H:%M", t) if t else ""


def event_row(e: AccessEventRecord) -> tuple[bool, list[str]]:
    person = e.person_name or (f"unknown badge {e.badge_id}" if e.badge_id else "")
    return e.granted, [
        city_time.strftime("%H:%M:%S", e.time),
        e.asset_id,
        e.building,
        person,
        e.group,
        "granted" if e.granted else "refused",
        e.reason,
    ]


class CardholdersController(QObject):
    def __init__(self, console: QObject, session: Session, client: CardholdersClient) -> None:
        super().__init__()
        self.console, self.session, self.client = console, session, client
        self.panel = CardholdersPanel()
        self.panel.set_time_zone(city_time.zone().key)
        self.setParent(self.panel)  # goes with the panel
        self.events = AccessEventLog()
        self.names: dict[str, str] = {}
        self.exceptions: list[AccessExceptionRecord] = []
        self._watching = False
        p, c = self.panel, client
        p.sig_search.connect(lambda text, group: c.list_cardholders(text, group))
        p.sig_set.connect(self._set)
        p.sig_remove.connect(c.remove_exception)
        p.sig_refresh.connect(c.list_exceptions)
        c.sig_directory.connect(self._on_directory)
        c.sig_exceptions.connect(self._on_exceptions)
        c.sig_changed.connect(self._on_changed)
        c.sig_events_reset.connect(self._on_events_reset)
        c.sig_events.connect(self._on_events)
        c.sig_failed.connect(self._on_failed)
        session.core.sig_logged_in.connect(self._on_user)
        link = getattr(console, "link", None)
        if link is not None:  # a lost server: exceptions cannot be set, and the panel says why
            link.sig_changed.connect(lambda: self._on_user(self.session.user, self.session.role))
        self._on_user(session.user, session.role)
        self._directory_loaded = False

    def refresh(self) -> None:
        if not self._directory_loaded:
            self.client.list_cardholders()  # the whole directory once: whom an exception may name
        self.client.list_exceptions()

    def set_watching(self, on: bool) -> None:
        if on != self._watching:
            self._watching = on
            self.client.watch_events(on)

    def _on_user(self, user: str, role: str) -> None:
        may = self.session.may("SUPERVISOR")
        who = f"{user} ({role})" if user else "nobody (not logged in)"
        why = "" if may else f"Only a SUPERVISOR may set or remove exceptions: you are {who}."
        link = getattr(self.console, "link", None)
        if link is not None:
            may, why = link.gate(may, why)
        self.panel.set_allowed(may, why)

    def _on_directory(self, people: list[Cardholder], groups: list[str], total: int) -> None:
        rows = [[p.name, p.group, p.organisation, ", ".join(p.badge_ids)] for p in people]
        self.panel.set_people(rows, groups, total)
        if not self._directory_loaded:  # the whole directory: the form's choices
            self._directory_loaded = True
            self.names = {p.person_id: p.name for p in people}
            choices = sorted(((p.person_id, f"{p.name} — {p.group}") for p in people), key=lambda x: x[1])
            self.panel.set_choices(choices, groups)
            self._show_exceptions()

    def _on_exceptions(self, rules: list[AccessExceptionRecord], buildings: list[Building]) -> None:
        self.exceptions = sorted(rules, key=lambda r: (r.valid_from, r.exception_id))
        self.panel.set_places(
            sorted({b.building_type for b in buildings if b.building_type}), sorted(b.name for b in buildings)
        )
        self._show_exceptions()

    def _show_exceptions(self) -> None:
        self.panel.set_exceptions(
            [
                (
                    r.exception_id,
                    [
                        r.who(self.names),
                        r.where(),
                        when(r.valid_from),
                        when(r.valid_until),
                        r.note,
                        r.created_by,
                    ],
                )
                for r in self.exceptions
            ]
        )

    def _set(self, form: dict) -> None:
        rule = AccessExceptionRecord(
            "",
            form["person_id"],
            form["group"],
            tuple(form["buildings"]),
            tuple(form["building_types"]),
            form["valid_from"],
            form["valid_until"],
            form["note"],
        )
        self.client.set_exception(rule, form["reason"])

    def _on_changed(self, text: str) -> None:
        self.panel.reason.clear()
        self.panel.problem.setText(text)
        self._message(text)

    def _on_events_reset(self) -> None:
        self.events.reset()
        self.panel.clear_events()

    def _on_events(self, events: list[AccessEventRecord]) -> None:
        new = self.events.add(events)
        self.panel.add_events([event_row(e) for e in reversed(new)])

    def _on_failed(self, op: str, why: str) -> None:
        text = f"{op.capitalize()} refused: {why}"
        if op in ("set", "remove"):
            self.panel.problem.setText(text)
        elif op in ("directory", "exceptions"):  # SUPERVISOR only: the directory names people
            self.panel.directory_count.setText(text)
        self._message(text)

    def _message(self, text: str) -> None:
        sig = getattr(self.console, "sig_message", None)
        if sig is not None:
            sig.emit(text)
