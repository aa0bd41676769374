"""The city modes panel's controller: between ModesPanel (widgets/modes/mode_dialog.py) and the
mode service client. It says what the logged-in user may do (the backend decides: activate, retry
and return need a SUPERVISOR), follows the active runs and fetches their per-device results."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from vigie.app import city_time
from vigie.app.client.session import Session
from vigie.app.models.modes import DeviceResult, ModeInfo, ModePreview, ModeRun, ModeScope
from vigie.widgets.modes.mode_dialog import ModesPanel

HIGHLIGHT_COLOR = "#f0883e"
RESULTS_EVERY_MS = 700  # a run's results are fetched again at most this often while it changes


def scope_of(whole_city: bool, districts: list[str]) -> ModeScope:
    return ModeScope(True) if whole_city else ModeScope(False, tuple(districts))


def when(t: float) -> str:
    return city_time.strftime("%d %b %H:%M", t) if t else ""


class ModesController(QObject):
    def __init__(self, console: QObject, session: Session) -> None:
        super().__init__()
        self.console, self.session = console, session
        self.client, self.store = session.modes, session.active_modes
        self.panel = ModesPanel()
        self.setParent(self.panel)  # goes with the panel
        p, c = self.panel, self.client
        p.sig_preview.connect(lambda m, w, d: c.preview(m, scope_of(w, d)))
        p.sig_activate.connect(self._activate)
        p.sig_run_selected.connect(lambda _rid: self._fetch_results())
        p.sig_retry.connect(lambda rid, reason: c.retry_failed(rid, reason))
        p.sig_return_check.connect(c.return_dry_run)
        p.sig_return.connect(lambda rid, reason, restore: c.return_to_normal(rid, reason, restore))
        p.sig_journal.connect(lambda: c.list_runs())
        p.sig_journal_run.connect(self._journal_run)
        p.sig_highlight.connect(self.highlight)
        c.sig_modes.connect(self._on_modes)
        c.sig_preview.connect(self._on_preview)
        c.sig_run.connect(self._on_run)
        c.sig_hand_changed.connect(self._on_hand_changed)
        c.sig_results.connect(self._on_results)
        c.sig_runs.connect(self._on_journal)
        c.sig_failed.connect(self._on_failed)
        self.store.sig_changed.connect(self._on_active)
        session.core.sig_logged_in.connect(self._on_user)
        link = getattr(console, "link", None)
        if link is not None:  # a lost server: activate, retry and return off, with the reason
            link.sig_changed.connect(lambda: self._on_user(self.session.user, self.session.role))
        self._journal_id = ""
        self._prefer = ""  # a run this console just activated: selected when it appears
        self._results_timer = QTimer(self, singleShot=True, interval=RESULTS_EVERY_MS)
        self._results_timer.timeout.connect(self._fetch_results)
        self._on_user(session.user, session.role)
        self._on_active()
        self.refresh()

    def refresh(self) -> None:
        self.client.list_modes()

    def highlight(self, ids: list[str], color: str = "", fit: bool = False) -> None:
        """Ring the previewed devices on the console's map ([] clears), framed when asked."""
        map_ctl = getattr(self.console, "map_ctl", None)
        if fit and ids:
            # "Show on map": the map comes into view (often a tab behind this panel); a hidden
            # page would not even run the framing's animation.
            self.console.sig_show_panel.emit("map")
        if map_ctl is not None:
            map_ctl.view.highlight_assets(ids, color or HIGHLIGHT_COLOR, fit)

    def _on_user(self, user: str, role: str) -> None:
        may = self.session.may("SUPERVISOR")
        who = f"{user} ({role})" if user else "nobody (not logged in)"
        why = "" if may else f"Only a SUPERVISOR may activate, retry or return a mode: you are {who}."
        link = getattr(self.console, "link", None)
        if link is not None:
            may, why = link.gate(may, why)
        self.panel.set_allowed(may, why)

    def _on_modes(self, modes: list[ModeInfo], _active: list[ModeRun], districts: list[str]) -> None:
        self.panel.set_modes(modes, districts)

    def _on_preview(self, preview: ModePreview) -> None:
        if preview.mode.id == self.panel.mode_id():
            self.panel.set_preview(preview)

    def _activate(self, mode_id: str, whole_city: bool, districts: list[str], reason: str) -> None:
        self.client.activate(mode_id, scope_of(whole_city, districts), reason)

    def _on_run(self, op: str, run: ModeRun) -> None:
        self._prefer = run.run_id
        self._message(f"{run.mode_name}: {op} sent ({run.state_text()})")
        self._on_active()

    def _on_active(self) -> None:
        runs = self.store.runs()
        prefer = self._prefer if any(r.run_id == self._prefer for r in runs) else ""
        if prefer:
            self._prefer = ""
        self.panel.set_runs(runs, prefer)
        if not self._results_timer.isActive():
            self._results_timer.start()

    def _fetch_results(self) -> None:
        run_id = self.panel.run_id()
        if run_id:
            self.client.get_run(run_id)

    def _on_results(self, run: ModeRun, results: list[DeviceResult], _total: int) -> None:
        if run.run_id == self._journal_id:
            self.panel.set_journal_results(results)
        if run.run_id == self.panel.run_id():
            self.panel.set_results(run, results)

    def _on_hand_changed(self, run: ModeRun, devices: list[DeviceResult]) -> None:
        self.panel.set_hand_changed(run.run_id, devices)

    def _on_journal(self, runs: list[ModeRun], _token: str) -> None:
        self.panel.set_journal(runs, [(when(r.activated_at), when(r.returned_at)) for r in runs])

    def _journal_run(self, run_id: str) -> None:
        self._journal_id = run_id
        self.client.get_run(run_id, phase="")

    def _on_failed(self, op: str, why: str) -> None:
        text = f"{op.capitalize()} refused: {why}"
        if op in ("preview", "activate", "modes"):
            self.panel.problem.setText(text)
            if op == "preview":
                self.panel.counts.setText(text)
        else:
            self.panel.run_problem.setText(text)
        self._message(text)

    def _message(self, text: str) -> None:
        sig = getattr(self.console, "sig_message", None)
        if sig is not None:
            sig.emit(text)
