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
    QMenu,
    QPushButton,
    QTableView,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

EMPTY_TEXT = (
    "No video wall yet: the backend's <b>--wall NAME=DISPLAY</b> or a supervisor creates one; then run "
    "<b>vigie wall --name NAME</b> on a wall PC, or put a screen in <b>Screens ▸ Presentation: shared wall</b>"
)


class WallsPanel(QWidget):
    sig_clear = Signal(str)  # wall name: show nothing (its name, waiting for content)
    sig_selected = Signal(str)  # wall name

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
