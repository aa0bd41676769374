"""The video walls at a glance: each wall with its online dot, what it shows, who pushed it and
when, and a "clear" action. Reads a Qt model (one row per wall, the name under `name_role`) and
emits what the supervisor asks; it never talks to the backend."""

from __future__ import annotations

from PySide6 import QtGui
from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

EMPTY_TEXT = (
    "No video wall yet. A video wall is a big screen the whole room watches: a supervisor creates it "
    "here, then a wall PC shows it, or a console screen does (Screens ▸ Presentation: shared wall). "
    "Once it exists, any operator can send a camera, a mosaic, the map or an alarm to it."
)
CREATE_TEXT = (
    "No video wall yet. Create one: give it a name and the screens allowed to show it (a wall PC's "
    "name, or this console's screen); then send cameras, mosaics, the map or alarms to it."
)


class WallsPanel(QWidget):
    sig_clear = Signal(str)  # wall name: show nothing (its name, waiting for content)
    sig_selected = Signal(str)  # wall name
    sig_create = Signal(str, list)  # a supervisor creates a wall: name, displays allowed to show it

    def __init__(
        self,
        model: QAbstractItemModel,
        name_role: int,
        stretch_column: int = 2,
        parent: QWidget | None = None,
    ) -> None:
        """`stretch_column`: the column that takes the spare width (what each wall shows)."""
        super().__init__(parent)
        self._role = name_role
        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(28)
        hh = self.table.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(stretch_column, QHeaderView.ResizeMode.Stretch)
        # Tooltips name displays, which come from afar: shown as plain text, never as rich text.
        self.table.viewport().installEventFilter(self)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().currentRowChanged.connect(
            lambda cur, _prev: self.sig_selected.emit(cur.data(self._role)) if cur.isValid() else None
        )
        self.empty = QLabel(EMPTY_TEXT, objectName="placeholder")
        self.empty.setWordWrap(True)
        self.create_box = QWidget()
        self.new_name = QLineEdit(placeholderText="Wall name, e.g. wall-1")
        self.new_name.setMaxLength(64)
        self.new_displays = QLineEdit(placeholderText="Shown by (comma-separated screens, e.g. wall-pc-1)")
        self.new_displays.setMaxLength(500)
        self.create = QPushButton("Create wall")
        self.create.setObjectName("primaryButton")
        self.create.clicked.connect(self._create)
        self.new_name.returnPressed.connect(self._create)
        cb = QHBoxLayout(self.create_box)
        cb.setContentsMargins(0, 0, 0, 0)
        cb.addWidget(self.new_name, 1)
        cb.addWidget(self.new_displays, 2)
        cb.addWidget(self.create)
        self.create_box.hide()  # supervisors only (set_may_create)
        self.clear = QPushButton("Clear wall")
        self.clear.setToolTip("Show nothing on the selected wall (its name, waiting for content)")
        self.clear.clicked.connect(self._clear_selected)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 4, 0, 0)
        bar.addWidget(self.empty, 1)
        bar.addStretch(0)
        bar.addWidget(self.clear)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 6)
        lay.addWidget(self.table, 1)
        lay.addLayout(bar)
        lay.addWidget(self.create_box)
        for sig in (model.modelReset, model.rowsInserted, model.rowsRemoved):
            sig.connect(self._update_empty)
        self._update_empty()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table.viewport() and event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            index = self.table.indexAt(event.pos())
            text = index.data(Qt.ItemDataRole.ToolTipRole) if index.isValid() else None
            if text:
                plain = QtGui.Qt.convertFromPlainText(str(text), Qt.WhiteSpaceMode.WhiteSpaceNormal)
                QToolTip.showText(event.globalPos(), plain, self.table.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().eventFilter(watched, event)

    def set_may_create(self, may: bool) -> None:
        """A supervisor gets the create row, and the empty text says how to use it."""
        self.create_box.setVisible(may)
        self.empty.setText(CREATE_TEXT if may else EMPTY_TEXT)

    def _create(self) -> None:
        name = self.new_name.text().strip()
        if not name:
            self.new_name.setFocus()
            return
        displays = [d.strip() for d in self.new_displays.text().split(",") if d.strip()]
        self.sig_create.emit(name, displays)
        self.new_name.clear()
        self.new_displays.clear()

    def selected_wall(self) -> str:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(self._role) if rows else ""

    def _clear_selected(self) -> None:
        name = self.selected_wall()
        if name:
            self.sig_clear.emit(name)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        name = index.data(self._role)
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addAction(f"Clear {name}").triggered.connect(lambda: self.sig_clear.emit(name))
        menu.popup(self.table.viewport().mapToGlobal(pos))  # never exec(): nothing modal

    def _update_empty(self) -> None:
        has = self.table.model().rowCount() > 0
        self.empty.setVisible(not has)
        self.clear.setEnabled(has)
