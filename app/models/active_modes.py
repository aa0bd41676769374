"""The modes active now, on the GUI thread: one per session, fed by the mode watch
(app/client/modes.py), read by every window's banner and status bar and by the wall displays."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from vigie.app.models.modes import ActiveModes, ModeRun


class ActiveModesStore(QObject):
    sig_changed = Signal()

    def __init__(self, modes_client: QObject) -> None:
        super().__init__()
        self.state = ActiveModes()
        modes_client.sig_snapshot.connect(self._on_snapshot)  # type: ignore[attr-defined]
        modes_client.sig_changes.connect(self._on_changes)  # type: ignore[attr-defined]

    def _on_snapshot(self, runs: list[ModeRun]) -> None:
        self.state.reset(runs)
        self.sig_changed.emit()

    def _on_changes(self, runs: list[ModeRun]) -> None:
        self.state.apply(runs)
        self.sig_changed.emit()

    def runs(self) -> list[ModeRun]:
        return self.state.ordered()
