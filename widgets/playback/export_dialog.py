"""Evidence export: cameras, a time range, a reason and a folder the user picks; progress, then the
manifest's path. Viewers see it disabled with the reason. Non-modal (nothing modal in a control
room); the controller (app/controllers/playback_export.py) does the work."""

from __future__ import annotations

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

MAX_CAMERAS = 16  # StartExport takes 1..16 cameras (docs/recording.md)


class ExportDialog(QDialog):
    sig_export = Signal(list, float, float, str, str)  # camera ids, start, end, reason, folder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export evidence")
        self.cameras = QListWidget()
        self.start = QDateTimeEdit(displayFormat="yyyy-MM-dd HH:mm:ss")
        self.end = QDateTimeEdit(displayFormat="yyyy-MM-dd HH:mm:ss")
        self.reason = QLineEdit(placeholderText="Why (case number, what happened): required")
        self.reason.setMaxLength(1000)
        self.folder = QLineEdit(placeholderText="Folder the files are written to")
        self.browse = QPushButton("Choose folder…")
        self.export_button = QPushButton("Export")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.result = QLabel("")
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.setWordWrap(True)
        self.denied = QLabel("")
        self.denied.setStyleSheet("color: #f85149;")
        self.denied.hide()
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse)
        form = QFormLayout()
        form.addRow("Cameras", self.cameras)
        form.addRow("From", self.start)
        form.addRow("To", self.end)
        form.addRow("Reason", self.reason)
        form.addRow("Folder", folder_row)
        lay = QVBoxLayout(self)
        lay.addWidget(self.denied)
        lay.addLayout(form)
        lay.addWidget(self.export_button)
        lay.addWidget(self.progress)
        lay.addWidget(self.result)
        self.browse.clicked.connect(self._choose)
        self.export_button.clicked.connect(self._export)
        for w in (self.reason, self.folder):
            w.textChanged.connect(self._check)
        self.cameras.itemChanged.connect(self._check)
        self._allowed = True
        self._check()

    def set_cameras(self, cameras: list[tuple[str, str]], checked: set[str]) -> None:
        self.cameras.clear()
        for cam_id, name in cameras:
            item = QListWidgetItem(f"{name} ({cam_id})" if name and name != cam_id else cam_id)
            item.setData(Qt.ItemDataRole.UserRole, cam_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if cam_id in checked else Qt.CheckState.Unchecked)
            self.cameras.addItem(item)
        self._check()

    def set_range(self, start: float, end: float) -> None:
        self.start.setDateTime(QDateTime.fromMSecsSinceEpoch(int(start * 1000)))
        self.end.setDateTime(QDateTime.fromMSecsSinceEpoch(int(end * 1000)))

    def set_allowed(self, allowed: bool, why: str = "") -> None:
        """Operators and above export; for others every field is disabled and `why` is shown."""
        self._allowed = allowed
        self.denied.setText(why)
        self.denied.setVisible(not allowed)
        for w in (self.cameras, self.start, self.end, self.reason, self.folder, self.browse):
            w.setEnabled(allowed)
        self._check()

    def checked(self) -> list[str]:
        return [
            self.cameras.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.cameras.count())
            if self.cameras.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _check(self) -> None:
        n = len(self.checked())
        ok = (
            self._allowed
            and 0 < n <= MAX_CAMERAS
            and bool(self.reason.text().strip())
            and bool(self.folder.text())
        )
        self.export_button.setEnabled(ok)
        if self._allowed and n > MAX_CAMERAS:
            self.result.setText(f"At most {MAX_CAMERAS} cameras in one export.")

    def _choose(self) -> None:
        dialog = QFileDialog(self, "Export to", self.folder.text())
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly)
        dialog.fileSelected.connect(self.folder.setText)
        dialog.open()  # never exec(): nothing modal in a control room

    def _export(self) -> None:
        self.export_button.setEnabled(False)
        self.progress.setValue(0)
        self.result.setText("Exporting…")
        start = self.start.dateTime().toMSecsSinceEpoch() / 1000
        end = self.end.dateTime().toMSecsSinceEpoch() / 1000
        self.sig_export.emit(self.checked(), start, end, self.reason.text().strip(), self.folder.text())

    def show_progress(self, fraction: float) -> None:
        self.progress.setValue(round(fraction * 100))

    def show_result(self, text: str, ok: bool) -> None:
        self.result.setText(text)
        self.result.setStyleSheet("" if ok else "color: #f85149;")
        self._check()
