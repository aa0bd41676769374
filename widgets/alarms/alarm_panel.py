"""The alarm console: live list, shelved list and journal, with acknowledge/shelve actions, the
flood indicator and the tone switch. Nothing here is modal: comments and reasons are typed inline,
Enter confirms, and alarms keep arriving while the operator types."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from vigie.widgets.wall.send_menu import WallChoices

SHELF_DURATIONS = [("15 min", 900), ("1 h", 3600), ("4 h", 14400), ("8 h", 28800)]
PERIODS = [("Last hour", 3600), ("Last 24 h", 86400), ("Last 7 days", 7 * 86400), ("All", 0)]
STATES = [
    ("All states", ""),
    ("Open", "open"),
    ("Closed", "normal"),
    ("Shelved", "shelved"),
    ("Suppressed", "suppressed"),
]


def _table(model: QAbstractItemModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(26)
    hh = view.horizontalHeader()
    hh.setHighlightSections(False)
    hh.setStretchLastSection(True)
    for col, width in enumerate((70, 80, 140, 230, 260, 120, 90)):
        view.setColumnWidth(col, width)
    hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return view


class AlarmPanel(QWidget):
    sig_acknowledge = Signal(list, str)  # alarm ids, comment
    sig_shelve = Signal(list, int, str)  # alarm ids, seconds, reason
    sig_unshelve = Signal(list)
    sig_selected = Signal(str)  # the current alarm (alarm-to-map and alarm-to-video)
    sig_journal_query = Signal(dict)  # {"period_s", "kind", "district", "state", "priority", "text"}
    sig_journal_more = Signal()
    sig_mute = Signal(bool)
    sig_filter = Signal(str)  # typed filter for the active and shelved lists
    sig_send_to_wall = Signal(str, object)  # wall name, {"kind": "alarm", "alarm_id": id}

    def __init__(
        self,
        active: QAbstractItemModel,
        shelved: QAbstractItemModel,
        journal: QAbstractItemModel,
        id_role: int,
        kinds: list[tuple[str, str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._id_role = id_role
        self.flood = QLabel()
        self.flood.setObjectName("floodIndicator")
        self.mute = QPushButton("Tone on")
        self.mute.setCheckable(True)
        self.mute.setToolTip("Audible tone for priority 1 and 2 alarms on this console")
        self.mute.toggled.connect(self._on_mute)
        self.filter = QLineEdit(placeholderText="Filter alarms: asset, message, district, p1…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.sig_filter)
        head = QHBoxLayout()
        head.addWidget(self.flood)
        head.addWidget(self.filter, 1)
        head.addWidget(self.mute)

        # Active alarms.
        self.active = _table(active)
        self.comment = QLineEdit(placeholderText="Comment (optional), Enter acknowledges")
        self.actions_allowed = True  # set_actions_allowed(): the logged-in role may act
        self.ack = QPushButton("Acknowledge (Space)")
        self.shelf_time = QComboBox()
        for label, seconds in SHELF_DURATIONS:
            self.shelf_time.addItem(label, seconds)
        self.reason = QLineEdit(placeholderText="Reason to shelve (required)")
        self.shelve = QPushButton("Shelve")
        actions = QHBoxLayout()
        actions.addWidget(self.comment, 2)
        actions.addWidget(self.ack)
        actions.addSpacing(16)
        actions.addWidget(self.shelf_time)
        actions.addWidget(self.reason, 2)
        actions.addWidget(self.shelve)
        active_tab = QWidget()
        al = QVBoxLayout(active_tab)
        al.setContentsMargins(0, 4, 0, 0)
        al.addWidget(self.active, 1)
        al.addLayout(actions)

        # Shelved alarms.
        self.shelved = _table(shelved)
        self.unshelve = QPushButton("Unshelve")
        shelved_tab = QWidget()
        sl = QVBoxLayout(shelved_tab)
        sl.setContentsMargins(0, 4, 0, 0)
        sl.addWidget(self.shelved, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.unshelve)
        sl.addLayout(row)

        # Journal.
        self.journal = _table(journal)
        self.period = QComboBox()
        for label, seconds in PERIODS:
            self.period.addItem(label, seconds)
        self.kind = QComboBox()
        self.kind.addItem("All kinds", "")
        for key, label in kinds:
            self.kind.addItem(label, key)
        self.district = QComboBox()
        self.district.addItem("All districts", "")
        self.state = QComboBox()
        for label, key in STATES:
            self.state.addItem(label, key)
        self.priority = QComboBox()
        self.priority.addItem("All priorities", 0)
        for p in (1, 2, 3, 4):
            self.priority.addItem(f"Priority {p}", p)
        self.text = QLineEdit(placeholderText="Asset, message or cause…")
        self.search = QPushButton("Search")
        self.more = QPushButton("More")
        self.more.setEnabled(False)
        self.results = QLabel()
        filters = QHBoxLayout()
        for w in (self.period, self.kind, self.district, self.state, self.priority):
            filters.addWidget(w)
        filters.addWidget(self.text, 1)
        filters.addWidget(self.search)
        journal_tab = QWidget()
        jl = QVBoxLayout(journal_tab)
        jl.setContentsMargins(0, 4, 0, 0)
        jl.addLayout(filters)
        jl.addWidget(self.journal, 1)
        foot = QHBoxLayout()
        foot.addWidget(self.results, 1)
        foot.addWidget(self.more)
        jl.addLayout(foot)

        self.tabs = QTabWidget()
        self.tabs.addTab(active_tab, "Active")
        self.tabs.addTab(shelved_tab, "Shelved")
        self.tabs.addTab(journal_tab, "Journal")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 6)
        lay.addLayout(head)
        lay.addWidget(self.tabs, 1)

        self.ack.clicked.connect(self._acknowledge)
        self.comment.returnPressed.connect(self._acknowledge)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self.active, activated=self._acknowledge)
        self.shelve.clicked.connect(self._shelve)
        self.reason.returnPressed.connect(self._shelve)
        self.unshelve.clicked.connect(lambda: self._emit_ids(self.shelved, self.sig_unshelve.emit))
        self.search.clicked.connect(self._query)
        self.text.returnPressed.connect(self._query)
        self.more.clicked.connect(self.sig_journal_more)
        self.walls = WallChoices()
        for view in (self.active, self.shelved, self.journal):
            view.selectionModel().currentRowChanged.connect(self._on_current)
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            view.customContextMenuRequested.connect(lambda pos, v=view: self._context_menu(v, pos))
        active.modelReset.connect(self._update_tabs)
        for m in (active, shelved):
            m.rowsInserted.connect(self._update_tabs)
            m.rowsRemoved.connect(self._update_tabs)
        self._update_tabs()
        self.set_flood(0, False)

    def _ids(self, view: QTableView) -> list[str]:
        return [i.data(self._id_role) for i in view.selectionModel().selectedRows()]

    def _emit_ids(self, view: QTableView, emit: object) -> None:
        ids = self._ids(view)
        if ids:
            emit(ids)  # type: ignore[operator]

    def set_actions_allowed(self, allowed: bool, why: str = "") -> None:
        """Acknowledge, shelve and unshelve only for those who may (the backend decides anyway)."""
        self.actions_allowed = allowed
        for w in (self.ack, self.shelve, self.unshelve, self.comment, self.reason):
            w.setEnabled(allowed)
            w.setToolTip("" if allowed else why)

    def _acknowledge(self) -> None:
        if not self.actions_allowed:
            return
        ids = self._ids(self.active)
        if ids:
            self.sig_acknowledge.emit(ids, self.comment.text().strip())
            self.comment.clear()

    def _shelve(self) -> None:
        ids = self._ids(self.active)
        reason = self.reason.text().strip()
        if not ids:
            return
        if not reason:
            self.reason.setFocus()
            self.reason.setPlaceholderText("A reason is required to shelve an alarm")
            return
        self.sig_shelve.emit(ids, int(self.shelf_time.currentData()), reason)
        self.reason.clear()

    def _query(self) -> None:
        self.sig_journal_query.emit(
            {
                "period_s": int(self.period.currentData()),
                "kind": self.kind.currentData(),
                "district": self.district.currentData(),
                "state": self.state.currentData(),
                "priority": int(self.priority.currentData()),
                "text": self.text.text().strip(),
            }
        )

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.sig_selected.emit(current.data(self._id_role))

    def set_walls(self, names: list[str], offline: set[str] | frozenset[str] = frozenset()) -> None:
        """The walls an alarm row's menu may send the incident to (none: no menu)."""
        self.walls.set_walls(names, offline)

    def _context_menu(self, view: QTableView, pos: QPoint) -> None:
        index = view.indexAt(pos)
        if not index.isValid() or not self.walls.names:
            return
        payload = {"kind": "alarm", "alarm_id": index.data(self._id_role)}
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.walls.add_menu(menu, payload, self.sig_send_to_wall.emit, "Send incident to wall")
        menu.popup(view.viewport().mapToGlobal(pos))  # never exec(): alarms keep arriving

    def _on_mute(self, muted: bool) -> None:
        self.mute.setText("Tone off" if muted else "Tone on")
        self.sig_mute.emit(muted)

    def _update_tabs(self) -> None:
        self.tabs.setTabText(0, f"Active ({self.active.model().rowCount()})")
        self.tabs.setTabText(1, f"Shelved ({self.shelved.model().rowCount()})")

    def set_districts(self, districts: list[str]) -> None:
        current = self.district.currentData()
        self.district.clear()
        self.district.addItem("All districts", "")
        for d in districts:
            self.district.addItem(d, d)
        index = self.district.findData(current)
        self.district.setCurrentIndex(max(0, index))

    def set_flood(self, per_minute: int, flood: bool) -> None:
        text = f"New alarms: {per_minute}/min"
        if flood:
            text = f"⚠ ALARM FLOOD — {per_minute}/min"
        self.flood.setText(text)
        color = "#f85149" if flood else "#8b949e"
        self.flood.setStyleSheet(f"color: {color}; font-weight: bold;")

    def set_journal_status(self, shown: int, total: int, more: bool) -> None:
        self.results.setText(f"{shown} of {total} alarms")
        self.more.setEnabled(more)
