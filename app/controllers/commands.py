"""From "command these devices" to a dialog that shows the command's real progress.

The controller knows what the backend offers (ListActions, fetched at each login), opens a
command dialog for a selection with only the actions that fit it, sends the command through the
session (which retries a lost answer with the same idempotency key) and feeds the dialog every
progress report the backend sends.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QWidget

from vigie.app.client.session import Session
from vigie.app.models.assets import AssetStore
from vigie.app.models.commands import (
    ENDINGS,
    ActionInfo,
    CommandProgressModel,
    CommandState,
    actions_for,
    changes_nothing,
    default_action,
    device_state,
)
from vigie.widgets.commands.command_dialog import CommandDialog
from vigie.widgets.status.palette import KIND_SINGULAR

COMMANDS_KEPT = 500  # the latest state of this many commands sent from this console (oldest go)


class CommandController(QObject):
    sig_message = Signal(str)  # for the status bar
    sig_actions_changed = Signal()  # what the backend offers changed (each login)

    def __init__(self, session: Session, assets: AssetStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.assets = assets
        self.actions: list[ActionInfo] = []
        self._open: dict[str, tuple[CommandDialog, CommandProgressModel]] = {}  # by idempotency key
        self.last_dialog: CommandDialog | None = None
        # The commands sent from this console, by key: the newest COMMANDS_KEPT (a shift sends
        # commands without end; a forgotten one that reports again comes back as the newest).
        self.commands: dict[str, CommandState] = {}
        session.core.sig_logged_in.connect(lambda _user, _role: session.commands.list_actions())
        session.commands.sig_actions.connect(self._on_actions)
        session.commands.sig_command.connect(self._on_command)

    def _on_actions(self, actions: list[ActionInfo]) -> None:
        self.actions = actions
        self.sig_actions_changed.emit()

    def fitting(self, asset_ids: list[str]) -> list[ActionInfo]:
        kinds = {r.kind for r in (self.assets.record(i) for i in asset_ids) if r is not None}
        return actions_for(self.actions, kinds)

    def _stations_ahead(self, records: list) -> list[tuple[str, str]]:
        """The stations every selected tram may skip (its `stations_ahead` attribute, in trip
        order), named after their station assets (`trm-` + the station id)."""
        ahead = [r.attributes.get("stations_ahead", "").split(",") for r in records]
        common = [s for s in ahead[0] if s and all(s in other for other in ahead[1:])]
        out = []
        for sid in common:
            station = self.assets.record(f"trm-{sid}")
            out.append((sid, station.name if station is not None else ""))
        return out

    def open_for(self, asset_ids: list[str], parent: QWidget | None = None) -> CommandDialog | None:
        """Open a command dialog for these assets (None, with a message, if nothing fits)."""
        records = [r for r in (self.assets.record(i) for i in asset_ids) if r is not None]
        if not records:
            return None
        if not self.session.may("OPERATOR"):
            self.sig_message.emit(
                f"Commands need the OPERATOR role — you are logged in as {self.session.role or 'nobody'}."
            )
            return None
        fitting = self.fitting([r.id for r in records])
        if not fitting:
            kinds = ", ".join(sorted({KIND_SINGULAR.get(r.kind, r.kind) for r in records}))
            self.sig_message.emit(f"No command fits this selection ({kinds}).")
            return None
        targets = [(r.id, r.name, KIND_SINGULAR.get(r.kind, r.kind)) for r in records]
        attrs = [r.attributes for r in records]
        dialog = CommandDialog(
            targets,
            fitting,
            self.session.role,
            self.session.may("SUPERVISOR"),
            parent,
            state=device_state(attrs),
            default=default_action(fitting, attrs),
            unchanged={a.action for a in fitting if changes_nothing(a, attrs)},
        )
        if any("station_id" in a.params for a in fitting):
            dialog.set_stations(self._stations_ahead(records))
        model = CommandProgressModel({r.id: r.name for r in records}, dialog)
        dialog.set_progress_model(model)
        ids = [r.id for r in records]
        dialog.sig_send.connect(
            lambda action, params, reason, confirmed: self._send(
                dialog, model, ids, action, params, reason, confirmed
            )
        )
        # Closed dialogs go (the command goes on); a dialog whose window goes with a workspace
        # switch is forgotten too.
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _=None: self._forget(dialog))
        dialog.show()
        self.last_dialog = dialog
        return dialog

    def _send(
        self,
        dialog: CommandDialog,
        model: CommandProgressModel,
        ids: list[str],
        action: int,
        params: dict,
        reason: str,
        confirmed: bool,
    ) -> None:
        key = self.session.commands.execute(ids, action, params, reason, confirmed)
        self._open[key] = (dialog, model)

    def close_dialogs(self) -> None:
        """The console closes: its command dialogs go with it (the commands themselves go on)."""
        for dialog in {id(d): d for d, _m in self._open.values()}.values():
            dialog.close()
        if self.last_dialog is not None and shiboken6.isValid(self.last_dialog):
            self.last_dialog.close()
        self.last_dialog = None

    def _forget(self, dialog: CommandDialog) -> None:
        """The dialog closed: the command goes on; its end is still reported in the status bar."""
        for key, (d, _m) in list(self._open.items()):
            if d is dialog:
                del self._open[key]

    def _on_command(self, state: CommandState) -> None:
        self.commands[state.key] = state
        while len(self.commands) > COMMANDS_KEPT:  # oldest first (insertion order)
            del self.commands[next(iter(self.commands))]
        entry = self._open.get(state.key)
        failed = bool(state.error) or any(t.stage in ENDINGS for t in state.targets)
        if entry is not None:
            dialog, model = entry
            model.set_state(state)
            dialog.set_counts(state.counts(), len(state.targets))
            text = state.summary()
            if state.retries and not state.done and not state.command_id:
                text = f"No answer yet — retrying with the same key (attempt {state.retries + 1})…"
            dialog.set_summary(text, state.done, failed)
        if state.done:
            label = state.action.replace("_", " ").lower()
            self.sig_message.emit(f"Command {label}: {state.summary()}")
