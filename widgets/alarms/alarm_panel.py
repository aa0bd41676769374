"""The alarm console: live list, shelved list and journal, with acknowledge/shelve actions, the
flood indicator and the tone switch. Nothing here is modal: comments and reasons are typed inline,
Enter confirms, and alarms keep arriving while the operator types.

Past 400 lines because keeping the operator's place (the selection and the top of the list while
rows come and go) needs the lists, their actions and the detail pane together; the columns' fit
and menu are in widgets/alarms/columns.py."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from vigie.widgets.alarms.columns import alarm_table as _table
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
    sig_create_incident = Signal(str)  # the current alarm: open an incident from it (button or I)
    sig_message = Signal(str)  # why a key did nothing (no alarm selected, already acknowledged)

    def __init__(
        self,
        active: QAbstractItemModel,
        shelved: QAbstractItemModel,
        journal: QAbstractItemModel,
        id_role: int,
        kinds: list[tuple[str, str]],
        parent: QWidget | None = None,
        priority_role: int = -1,
    ) -> None:
        """`priority_role`: the role giving a row's priority (1 highest); an active model with
        `sig_reordering`/`sig_reordered` signals lets the panel keep the operator's place."""
        super().__init__(parent)
        self._id_role = id_role
        self._priority_role = priority_role
        self._reordering = (
            False  # the active list is changing: Qt's current-index moves are not the operator's
        )
        self._anchor: tuple[str, int, int] | None = None
        self._scroll = 0
        self._followed: dict[QTableView, str] = {}  # per list: the alarm the console follows
        self._link_lost_since = ""  # the server is unreachable since then ("" while live)
        self._rate = 0
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
        self.incident = QPushButton("Create incident (I)")
        self.incident.setToolTip("Opens an incident at the alarm's place, with its cameras")
        actions = QHBoxLayout()
        actions.addWidget(self.incident)
        actions.addSpacing(16)
        actions.addWidget(self.comment, 2)
        actions.addWidget(self.ack)
        actions.addSpacing(16)
        actions.addWidget(self.shelf_time)
        actions.addWidget(self.reason, 2)
        actions.addWidget(self.shelve)
        self.hint = QLabel()
        self.hint.setObjectName("alarmHint")
        self.hint.hide()  # shown with a reason only (say())
        # The selected alarm in full: what, where, since when, and its history (acknowledged by
        # whom with what comment, shelved why), under the list so no column is squeezed.
        self.detail = QLabel("Select an alarm to see its details and comments")
        self.detail.setObjectName("alarmDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.RichText)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        detail_scroll = QScrollArea()
        detail_scroll.setWidget(self.detail)
        detail_scroll.setWidgetResizable(True)
        detail_scroll.setFrameShape(QFrame.Shape.NoFrame)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.active)
        split.addWidget(detail_scroll)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setCollapsible(0, False)
        # The list keeps the room: the pane takes three lines at most (it scrolls, or the
        # operator drags the handle) and folds away entirely on a short panel.
        self.detail_scroll = detail_scroll
        detail_scroll.setMinimumHeight(0)
        self.detail_split = split
        self._fit_detail()
        active_tab = QWidget()
        al = QVBoxLayout(active_tab)
        al.setContentsMargins(0, 4, 0, 0)
        al.addWidget(split, 1)
        al.addLayout(actions)
        al.addWidget(self.hint)

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

        self.ack.clicked.connect(self.acknowledge)
        self.comment.returnPressed.connect(self.acknowledge)
        # Space on the list acknowledges (read by app/shortcuts.py; a plain list ticks with it).
        self.active.setProperty("vigieSpaceIsShortcut", True)
        # Keys of a panel used alone; a console replaces them with its registry's (drop_own_keys).
        self._own_keys = [
            QShortcut(QKeySequence(Qt.Key.Key_Space), self.active, activated=self.acknowledge),
            QShortcut(QKeySequence(Qt.Key.Key_I), self.active, activated=self.create_incident),
        ]
        self.incident.clicked.connect(self.create_incident)
        self.shelve.clicked.connect(self._shelve)
        self.reason.returnPressed.connect(self._shelve)
        self.unshelve.clicked.connect(lambda: self._emit_ids(self.shelved, self.sig_unshelve.emit))
        self.search.clicked.connect(self._query)
        self.text.returnPressed.connect(self._query)
        self.more.clicked.connect(self.sig_journal_more)
        self.walls = WallChoices()
        for view in (self.active, self.shelved, self.journal):
            view.selectionModel().currentRowChanged.connect(lambda *_, v=view: self._on_current(v))
            view.selectionModel().selectionChanged.connect(lambda *_, v=view: self._on_current(v))
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            view.customContextMenuRequested.connect(lambda pos, v=view: self._context_menu(v, pos))
        # The top of the list never scrolls away on its own: while the operator is at the top (the
        # newest, highest alarms), only the operator's own scrolling or selecting moves it.
        self._top_pinned = True
        bar = self.active.verticalScrollBar()
        bar.actionTriggered.connect(lambda _a: setattr(self, "_top_pinned", bar.sliderPosition() == 0))
        bar.valueChanged.connect(self._keep_top)
        if hasattr(active, "sig_reordering"):
            active.sig_reordering.connect(self._before_reorder)
            active.sig_reordered.connect(self._after_reorder)
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
        for w in (self.ack, self.shelve, self.unshelve, self.comment, self.reason, self.incident):
            w.setEnabled(allowed)
            w.setToolTip("" if allowed else why)

    def drop_own_keys(self) -> None:
        """Space and I become the console's application-wide shortcuts (app/shortcuts.py): two
        shortcuts on one key would be ambiguous, and neither would fire."""
        for sc in self._own_keys:
            sc.setEnabled(False)
            sc.deleteLater()
        self._own_keys = []

    def say(self, text: str) -> None:
        """Why a key or button did nothing, where the operator is looking (and in the status bar)."""
        self.hint.setText(text)
        self.hint.setVisible(bool(text))
        self.sig_message.emit(text)

    def acknowledge(self) -> None:
        if not self.actions_allowed:
            self.say(self.ack.toolTip() or "Acknowledging is not possible now")
            return
        ids = self._ids(self.active)
        if not ids:
            self.say("Nothing acknowledged: no alarm is selected (Ctrl+Down selects the next one)")
            return
        self.hint.clear()
        self.hint.hide()
        self.sig_acknowledge.emit(ids, self.comment.text().strip())
        self.comment.clear()

    def step(self, delta: int) -> None:
        """Select the next (+1) or previous (-1) alarm of the active list; it takes the focus."""
        self.tabs.setCurrentIndex(0)
        n = self.active.model().rowCount()
        if not n:
            self.say("No active alarm")
            return
        cur = self.active.currentIndex()
        row = (
            0 if not cur.isValid() or not self.active.selectionModel().isSelected(cur) else cur.row() + delta
        )
        self._select_active_row(max(0, min(n - 1, row)))
        self.active.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _select_active_row(self, row: int) -> None:
        view = self.active
        idx = view.model().index(row, 0)
        view.selectionModel().setCurrentIndex(
            idx,
            view.selectionModel().SelectionFlag.ClearAndSelect | view.selectionModel().SelectionFlag.Rows,
        )
        view.scrollTo(idx)

    def shelve_selected(self) -> None:
        """The shelve key: with a reason typed, shelve; without, go to the reason field."""
        if not self._ids(self.active):
            self.say("Nothing to shelve: no alarm is selected")
            return
        self._shelve()

    def create_incident(self) -> None:
        index = self.active.selectionModel().currentIndex()
        if self.actions_allowed and index.isValid():
            self.sig_create_incident.emit(index.data(self._id_role))

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

    def _keep_top(self, value: int) -> None:
        if self._top_pinned and value:
            self.active.verticalScrollBar().setValue(0)

    def _on_current(self, view: QTableView) -> None:
        """Only a highlighted row moves the detail, map and video: a row the operator (or the panel,
        choosing after an acknowledge) selected; not Qt's current index moving while rows come and
        go, nor the first row a list gives the focus to."""
        if self._reordering:
            return
        current = view.currentIndex()
        if not current.isValid() or not view.selectionModel().isSelected(current):
            self._followed.pop(view, None)
            return
        if view is self.active:  # the operator chose a row below the fold: the list may follow it
            self._top_pinned = view.visualRect(current).bottom() < view.viewport().height()
            if not self._top_pinned:
                view.scrollTo(current)  # Qt's own scroll to it was held back by _keep_top
        alarm_id = current.data(self._id_role)
        if self._followed.get(view) != alarm_id:
            self._followed[view] = alarm_id
            self.sig_selected.emit(alarm_id)

    # ---- keeping the operator's place while the list changes ------------------------------------

    def _before_reorder(self) -> None:
        """The active list is about to change: remember the current alarm, its row and priority, and
        whether the list was at its top."""
        view = self.active
        self._reordering = True
        cur = view.currentIndex()
        selected = cur.isValid() and view.selectionModel().isSelected(cur)
        self._anchor = (
            (cur.data(self._id_role), cur.row(), cur.siblingAtColumn(0).data(self._priority_role))
            if selected
            else None
        )
        self._scroll = view.verticalScrollBar().value()

    def _after_reorder(self) -> None:
        """When the current alarm left the list (acknowledged after it cleared, shelved), select the
        one now at its place if it is of the same or higher priority, else the one above it: never
        a row far below, and the list stays where it was (at its top if it was there)."""
        view, model = self.active, self.active.model()
        anchor, self._anchor = self._anchor, None
        ids = {model.index(r, 0).data(self._id_role): r for r in range(model.rowCount())} if anchor else {}
        try:
            if anchor is None:
                return
            alarm_id, row, priority = anchor
            if alarm_id in ids:
                return  # still listed: Qt kept it current and selected
            n = model.rowCount()
            target = -1
            if row < n and (model.index(row, 0).data(self._priority_role) or 9) <= (priority or 9):
                target = row
            elif n:
                target = min(row, n) - 1
            if target < 0:
                view.selectionModel().clearSelection()
                view.selectionModel().setCurrentIndex(
                    QModelIndex(), view.selectionModel().SelectionFlag.NoUpdate
                )
                return
            idx = model.index(target, 0)
            view.selectionModel().setCurrentIndex(
                idx,
                view.selectionModel().SelectionFlag.ClearAndSelect | view.selectionModel().SelectionFlag.Rows,
            )
            self._reordering = False
            self._on_current(view)
        finally:
            self._reordering = False
            view.verticalScrollBar().setValue(self._scroll)  # Qt's current-index move scrolled it

    def _fit_detail(self) -> None:
        """Three lines of detail on a tall panel, one on a short one: the list keeps five rows."""
        line = self.fontMetrics().lineSpacing()
        lines = 3 if self.height() >= 420 else 1 if self.height() >= 360 else 0
        self.detail.setWordWrap(lines > 1)
        self.detail_scroll.setVisible(lines > 0)  # a very short panel: the rows first (tooltips say it)
        self.detail_scroll.setMaximumHeight(lines * line + 8)
        self.detail_split.setSizes([1000, lines * line + 8])

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if hasattr(self, "detail_split"):
            self._fit_detail()

    def show_detail(self, html: str) -> None:
        """The selected alarm's details and history (rich text made by the controller)."""
        self.detail.setText(html)

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

    def set_link(self, live: bool, since: str = "") -> None:
        """A lost server: the rate of new alarms is unknown, not low (it must not read as a quiet city)."""
        self._link_lost_since = "" if live else since
        self.set_flood(self._rate, False)

    def set_flood(self, per_minute: int, flood: bool) -> None:
        self._rate = per_minute
        if self._link_lost_since:
            self.flood.setText(f"New alarms: UNKNOWN — no server since {self._link_lost_since}")
            self.flood.setStyleSheet("color: #f85149; font-weight: bold;")
            return
        text = f"New alarms: {per_minute}/min"
        if flood:
            text = f"⚠ ALARM FLOOD — {per_minute}/min"
        self.flood.setText(text)
        color = "#f85149" if flood else "#8b949e"
        self.flood.setStyleSheet(f"color: {color}; font-weight: bold;")

    def set_journal_status(self, shown: int, total: int, more: bool) -> None:
        self.results.setText(f"{shown} of {total} alarms")
        self.more.setEnabled(more)
