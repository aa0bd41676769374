"""The asset panel: a tree of kinds and districts with status counts over a searchable table.

It shows the models it is given and reports what the operator does; the owner applies filters.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QItemSelection,
    QModelIndex,
    QObject,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableView,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

CHIP_LABELS = {"warning": "WARN", "offline": "OFFLINE", "maintenance": "MAINT"}


class AssetPanel(QWidget):
    sig_filter_text = Signal(str)  # typed search text (debounced)
    sig_scope = Signal(object, object)  # kind | None, district | None from the tree
    sig_asset_selected = Signal(str)  # current asset id ("" when none)
    sig_asset_activated = Signal(str)  # double-click / Enter: "show me more"
    sig_command_requested = Signal(list)  # asset ids the operator wants to command
    sig_statuses = Signal(object)  # frozenset of statuses the chips keep (empty: all)
    sig_grouping = Signal(str)  # the tree's grouping: "kind" or "district"
    sig_clear_filters = Signal()  # the operator cleared every filter (the panel resets its own)
    sig_pointer_over_table = Signal(bool)  # rows should keep their places while pointed at
    sig_table_shown = Signal(bool)  # the table went on or off screen (a hidden one places no rows)

    def __init__(
        self,
        table_model: QAbstractItemModel,
        tree_model: QAbstractItemModel,
        id_role: int,
        scope_role: int,
        parent: QWidget | None = None,
        statuses: tuple[str, ...] = (),
        status_labels: dict[str, str] | None = None,
    ) -> None:
        """`statuses`: one chip each (with `status_labels`' words)."""
        super().__init__(parent)
        status_labels = status_labels or {}
        self._id_role = id_role
        self._scope_role = scope_role
        self.search = QLineEdit(
            placeholderText="Search: words all match (fault universit), or column:word (district:univ)  (Ctrl+F)"
        )
        self.search.setClearButtonEnabled(True)
        self.search.setObjectName("assetSearch")
        self.summary = QLabel()
        self.summary.setObjectName("panelSummary")
        # Status chips: keep only these statuses (none checked: all).
        self.chips: dict[str, QToolButton] = {}
        chips = QHBoxLayout()
        chips.setSpacing(4)
        for status in statuses:
            chip = QToolButton()
            chip.setObjectName("statusChip")
            chip.setText(CHIP_LABELS.get(status, status_labels.get(status, status.upper())))
            chip.setCheckable(True)
            chip.setToolTip(
                f"Show only {status_labels.get(status, status)} assets (with the other checked chips)"
            )
            chip.toggled.connect(self._on_chips)
            chips.addWidget(chip)
            self.chips[status] = chip
        chips.addStretch(1)
        self.grouping = QComboBox()  # beside the summary, under the table
        self.grouping.addItem("Kind → district", "kind")
        self.grouping.addItem("District → kind", "district")
        self.grouping.setToolTip("How the tree groups assets")
        self.grouping.currentIndexChanged.connect(
            lambda _i: self.sig_grouping.emit(self.grouping.currentData())
        )
        # The filters in force, with one click to clear them all: a filter never hides rows silently.
        self.filters_label = QLabel()
        self.filters_label.setObjectName("activeFilters")
        self.clear_filters = QPushButton("Clear filters ✕")
        self.clear_filters.setToolTip("Show every asset again")
        self.clear_filters.clicked.connect(self.clear_all_filters)
        self.filters_bar = QWidget()
        fb = QHBoxLayout(self.filters_bar)
        fb.setContentsMargins(0, 0, 0, 0)
        fb.addWidget(self.filters_label, 1)
        fb.addWidget(self.clear_filters)
        self.filters_bar.hide()

        self.tree = QTreeView()
        self.tree.setModel(tree_model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.expandToDepth(0)
        th = self.tree.header()
        th.setStretchLastSection(False)
        th.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, tree_model.columnCount()):
            th.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)

        self.table = QTableView()
        self.table.setModel(table_model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # by status: faults first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setDragEnabled(True)  # cameras can be dragged onto mosaic tiles
        self.table.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        hh = self.table.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        for col, width in enumerate((120, 230, 120, 130, 200, 85, 100)):
            self.table.setColumnWidth(col, width)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(self.table)
        split.setSizes([260, 600])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(6)
        chips_row = QWidget()
        chips_row.setObjectName("chipsRow")
        chips_row.setLayout(chips)
        chips.setContentsMargins(0, 0, 0, 0)
        # The chips never widen the panel (a laptop's column is narrow): scrolled rather.
        chips_scroll = QScrollArea()
        chips_scroll.setWidget(chips_row)
        chips_scroll.setWidgetResizable(True)
        chips_scroll.setFrameShape(QFrame.Shape.NoFrame)
        chips_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        chips_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        chips_scroll.setFixedHeight(chips_row.sizeHint().height())
        chips_scroll.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        lay.addWidget(self.search)
        lay.addWidget(chips_scroll)
        lay.addWidget(self.filters_bar)
        lay.addWidget(split, 1)
        foot = QHBoxLayout()
        foot.addWidget(self.summary, 1)
        foot.addWidget(self.grouping)
        lay.addLayout(foot)

        self._debounce = QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(lambda: self.sig_filter_text.emit(self.search.text()))
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        # Ctrl+F of a panel used alone; a console uses its registry's (app/shortcuts.py) instead.
        self._own_find = QShortcut(QKeySequence.StandardKey.Find, self, activated=self.focus_search)
        self.tree.selectionModel().currentChanged.connect(self._on_tree_current)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._on_current())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_current())
        self._followed = ""
        self.table.viewport().installEventFilter(self)
        self.table.installEventFilter(self)  # shown / hidden, with its dock, tab or window
        self.table.activated.connect(self._on_activated)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_table_menu)
        table_model.modelReset.connect(self._update_summary)
        table_model.rowsInserted.connect(self._update_summary)
        table_model.rowsRemoved.connect(self._update_summary)
        self._update_summary()

    def drop_own_keys(self) -> None:
        self._own_find.setEnabled(False)

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _on_tree_current(self, current: QModelIndex, _prev: QModelIndex) -> None:
        kind, district = current.data(self._scope_role) or (None, None)
        self.sig_scope.emit(kind, district)

    def _on_current(self) -> None:
        """Only a highlighted row is a selection: Qt moving the current index while rows come and
        go (a filter, a tree click, a re-sort) moves neither the detail nor the map."""
        current = self.table.currentIndex()
        if not current.isValid() or not self.table.selectionModel().isSelected(current):
            self._followed = ""
            return
        asset_id = current.data(self._id_role)
        if asset_id != self._followed:
            self._followed = asset_id
            self.sig_asset_selected.emit(asset_id)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.table.viewport() and event.type() in (QEvent.Type.Enter, QEvent.Type.Leave):
            self.sig_pointer_over_table.emit(event.type() == QEvent.Type.Enter)
        elif obj is self.table and event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            self.sig_table_shown.emit(event.type() == QEvent.Type.Show)
        return False

    def _on_chips(self) -> None:
        self.sig_statuses.emit(frozenset(s for s, chip in self.chips.items() if chip.isChecked()))

    def show_filters(self, filters: list[str]) -> None:
        """The filters in force, in words (the owner's model says them); hidden when none."""
        self.filters_label.setText("Filtered by " + ", ".join(filters) if filters else "")
        self.filters_bar.setVisible(bool(filters))

    def clear_all_filters(self) -> None:
        """Search, chips and tree back to everything."""
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        for chip in self.chips.values():
            chip.blockSignals(True)
            chip.setChecked(False)
            chip.blockSignals(False)
        self.tree.selectionModel().clearSelection()
        self.tree.setCurrentIndex(self.tree.model().index(0, 0))
        self.sig_clear_filters.emit()

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.sig_asset_activated.emit(index.data(self._id_role))

    def _update_summary(self) -> None:
        shown = self.table.model().rowCount()
        total = getattr(self.table.model(), "total", lambda: shown)()
        self.summary.setText(f"{shown:,} of {total:,} assets shown".replace(",", " "))

    def _on_table_menu(self, pos: QPoint) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        label = "Send a command…" if len(ids) == 1 else f"Send a command to the {len(ids)} selected…"
        menu.addAction(label).triggered.connect(lambda: self.sig_command_requested.emit(ids))
        menu.popup(self.table.viewport().mapToGlobal(pos))  # popup: nothing waits on the menu

    def selected_ids(self) -> list[str]:
        return [i.data(self._id_role) for i in self.table.selectionModel().selectedRows()]

    def select_row(self, row: int) -> None:
        """Make `row` current and visible (used when another view selects an asset)."""
        if row < 0:
            return
        idx = self.table.model().index(row, 0)
        self.table.selectionModel().select(
            QItemSelection(idx, idx.siblingAtColumn(self.table.model().columnCount() - 1)),
            self.table.selectionModel().SelectionFlag.ClearAndSelect,
        )
        self.table.setCurrentIndex(idx)
        self.table.scrollTo(idx)
