"""The export dialog's work: start the export, follow it, download it into the folder picked."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from vigie.app.client.playback_types import ExportProgress
from vigie.app.client.session import Session
from vigie.widgets.playback.export_dialog import ExportDialog


class ExportController(QObject):
    def __init__(self, session: Session, dialog: ExportDialog) -> None:
        super().__init__(dialog)
        self.session, self.dialog = session, dialog
        self.manifest = ""  # path of the last manifest written
        client = session.playback
        self._allow()
        session.sig_logged_in.connect(lambda *_: self._allow())
        dialog.sig_export.connect(self._start)
        client.sig_export.connect(self._on_progress)
        client.sig_export_saved.connect(self._on_saved)
        client.sig_failed.connect(self._on_failed)

    def _allow(self) -> None:
        self.dialog.set_allowed(
            self.session.may("OPERATOR"),
            "Exports need the operator role or above: you can play back, not export.",
        )

    def _start(self, cameras: list[str], start: float, end: float, reason: str, folder: str) -> None:
        self.session.playback.export(cameras, start, end, reason, Path(folder))

    def _on_progress(self, p: ExportProgress) -> None:
        self.dialog.show_progress(p.progress)
        if p.state == "FAILED":
            self.dialog.show_result(f"Export failed: {p.error}", False)
        elif p.state == "DONE":
            self.dialog.result.setText(f"Downloading {len(p.files)} file(s)…")

    def _on_saved(self, _export_id: str, folder: str) -> None:
        self.manifest = str(Path(folder) / "manifest.json")
        self.dialog.show_progress(1.0)
        self.dialog.show_result(
            f"Exported. Manifest: {self.manifest}\nCheck it with: vigie verify-export {folder}", True
        )

    def _on_failed(self, what: str, why: str) -> None:
        if what == "export":
            self.dialog.show_result(f"Export failed: {why}", False)
